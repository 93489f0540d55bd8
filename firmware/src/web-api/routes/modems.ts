/**
 * GET /api/modems/profiles → {"profiles": ["auto", …]}: the vendor profile names the modems page
 * offers (hardware/modems/*.json).
 * POST /api/modems/:name/test-send {"to"} → {"modem","parts"}: one test SMS through that modem
 * (not round robin), so an admin can prove each SIM sends; audited, a few a minute.
 * POST /api/modems/:name/probe → the ProbeReport (identity, SIM, registration, signal, operator)
 * asked afresh of the running modem on the port it already has open; 404 for no such modem.
 * The modems themselves are edited through PATCH /api/config (`modems`, the PIN write-only) and
 * applied live by the pool; their state is in /api/health.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { describeError } from '../../errors.ts';
import type { ProbeReport } from '../../modem/one-shot.ts';
import { loadProfiles } from '../../modem/profiles.ts';
import { maskNumber, normaliseNumber } from '../../phone.ts';
import { adminOf } from '../security.ts';
import { TEST_SMS_TEXT } from './ops.ts';
import { badRequest, zodIssues, type AdminAudit } from './session.ts';

export interface ModemTestSender {
  /** Sends `text` through the named modem now; rejects when there is no such modem or it fails. */
  sendVia(modem: string, to: string, text: string): Promise<{ parts: number }>;
  defaultCountry(): string;
  /** Fresh facts from the named running modem; undefined when there is no such modem. */
  probe?(modem: string): Promise<ProbeReport | undefined>;
}

const testBody = z.strictObject({ to: z.string().min(1).max(40) });

export function registerModemRoutes(
  app: FastifyInstance,
  audit: AdminAudit,
  sender?: ModemTestSender,
  profiles: () => string[] = profileNames,
): void {
  app.get('/api/modems/profiles', (_req, reply) => reply.send({ profiles: ['auto', ...profiles()] }));
  if (!sender) return;
  const probe = sender.probe?.bind(sender);
  if (probe)
    app.post<{ Params: { name: string } }>(
      '/api/modems/:name/probe',
      { config: { rateLimit: { max: 20, timeWindow: 60_000 } } },
      async (req, reply) => {
        const modem = req.params.name;
        const event = { action: 'modem-probe' as const, actor: adminOf(req), source: req.ip };
        try {
          const r = await probe(modem);
          if (!r)
            return reply
              .code(404)
              .send({ statusCode: 404, error: 'Not Found', message: `no modem named ${modem}` });
          await audit({ ...event, outcome: 'ok', detail: `${modem}: ${r.registration}` });
          return r;
        } catch (e) {
          await audit({ ...event, outcome: 'failed', detail: `${modem}: ${describeError(e)}` });
          return reply.code(502).send({
            statusCode: 502,
            error: 'Bad Gateway',
            message: `${modem} did not answer the probe: ${describeError(e)}`,
          });
        }
      },
    );
  app.post<{ Params: { name: string } }>(
    '/api/modems/:name/test-send',
    { config: { rateLimit: { max: 10, timeWindow: 60_000 } } },
    async (req, reply) => {
      const b = testBody.safeParse(req.body);
      if (!b.success) return badRequest(reply, 'send {"to": "+15550000001"}', zodIssues(b.error));
      const n = normaliseNumber(b.data.to, sender.defaultCountry(), { acceptPossible: true });
      if (!n.ok) return badRequest(reply, `to: ${n.reason}`, [{ path: 'to', message: n.reason }]);
      const modem = req.params.name;
      const event = { action: 'test-sms' as const, actor: adminOf(req), source: req.ip };
      try {
        const r = await sender.sendVia(modem, n.e164, TEST_SMS_TEXT);
        await audit({ ...event, outcome: 'ok', detail: `to ${maskNumber(n.e164)} through ${modem}` });
        return { modem, parts: r.parts };
      } catch (e) {
        await audit({ ...event, outcome: 'failed', detail: `through ${modem}: ${describeError(e)}` });
        return reply.code(502).send({
          statusCode: 502,
          error: 'Bad Gateway',
          message: `the SMS was not sent through ${modem}: ${describeError(e)}`,
        });
      }
    },
  );
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
