/**
 * POST /api/directory/test {"directory"?: merge patch, "user"?: login} → {"ok", "passed", "total", "lines"}:
 * the steps `mfabox directory test` prints (DNS, TCP, TLS, bind, search per DC), run against the
 * running directory settings with the page's unsaved edits merged in, so an admin can test a form
 * before saving it. A bind password sent back as {"set": true} uses the stored one; nothing is saved.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { LiveConfig } from '../../config/live-config.ts';
import { applyMergePatch } from '../../config/merge-patch.ts';
import { directorySchema, type LdapDirectoryConfig } from '../../config/schema.ts';
import { resolveSecrets } from '../../config/secrets.ts';
import { describeError, isMfaError } from '../../errors.ts';
import { testDirectory } from '../../directory/diagnose.ts';
import { badRequest, zodIssues } from './session.ts';

export type DirectoryTester = (
  cfg: LdapDirectoryConfig,
  o: { user?: string; out: (line: string) => void },
) => Promise<{ passed: number; total: number }>;

const body = z.strictObject({
  directory: z.record(z.string(), z.unknown()).optional(),
  user: z.string().min(1).max(256).optional(),
});

export function registerDirectoryTestRoutes(
  app: FastifyInstance,
  live: LiveConfig,
  tester: DirectoryTester = testDirectory,
): void {
  app.post(
    '/api/directory/test',
    // Each test opens connections to every DC: a few a minute is plenty for an admin.
    { config: { rateLimit: { max: 10, timeWindow: 60_000 } } },
    async (req, reply) => {
      const b = body.safeParse(req.body ?? {});
      if (!b.success)
        return badRequest(reply, 'send {"directory"?: {...}, "user"?: "name"}', zodIssues(b.error));
      const stored = { directory: live.current.directory };
      const edited = { directory: applyMergePatch(stored.directory, b.data.directory ?? {}) };
      const secretProblems = resolveSecrets(edited, stored);
      if (secretProblems.length > 0)
        return badRequest(
          reply,
          secretProblems.map((p) => `${p.path}: ${p.message}`).join('; '),
          secretProblems,
        );
      const parsed = directorySchema.safeParse(edited.directory);
      if (!parsed.success)
        return badRequest(
          reply,
          'invalid directory settings',
          zodIssues(parsed.error).map((i) => ({ ...i, path: `directory.${i.path}` })),
        );
      const cfg = parsed.data;
      if (cfg.kind !== 'ldap')
        return badRequest(reply, `a directory of kind "${cfg.kind}" has no connection to test`, [
          { path: 'directory.kind', message: 'choose ldap to test a connection' },
        ]);
      const lines: string[] = [];
      const out = (l: string): void => void lines.push(...l.split('\n'));
      try {
        const r = await tester(cfg, { ...(b.data.user ? { user: b.data.user } : {}), out });
        return { ok: r.total > 0 && r.passed === r.total, ...r, lines };
      } catch (e) {
        // A refused setting (an unreadable CA file, plain LDAP without allowInsecure) is the answer.
        if (!isMfaError(e)) throw e;
        lines.push(`FAILED  config  ${describeError(e)}`);
        return { ok: false, passed: 0, total: cfg.urls.length, lines };
      }
    },
  );
}
