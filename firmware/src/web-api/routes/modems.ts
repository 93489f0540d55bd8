/**
 * GET /api/modems/profiles → {"profiles": ["auto", …]}: the vendor profile names the modems page
 * offers (hardware/modems/*.json). The modems themselves are edited through PATCH /api/config
 * (`modems`, the PIN write-only) and applied live by the pool; their state is in /api/health.
 */
import type { FastifyInstance } from 'fastify';
import { loadProfiles } from '../../modem/profiles.ts';

export function registerModemRoutes(app: FastifyInstance, profiles: () => string[] = profileNames): void {
  app.get('/api/modems/profiles', (_req, reply) => reply.send({ profiles: ['auto', ...profiles()] }));
}

function profileNames(): string[] {
  try {
    return loadProfiles()
      .map((p) => p.name)
      .sort();
  } catch {
    // A release without hardware/modems still lets the admin pick "auto".
    return [];
  }
}
