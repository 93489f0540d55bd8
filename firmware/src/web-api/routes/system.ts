/**
 * The System page's actions: the TLS certificate upload (with the rollback timer), backup and
 * restore (one file encrypted with a passphrase), reboot and factory reset (each confirmed).
 * Every action is audited, refusals included.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ConfigRejected } from '../../config/live-config.ts';
import { describeError, ErrorCode, isMfaError } from '../../errors.ts';
import type { AdminStore } from '../admins.ts';
import { MAX_BACKUP_BYTES, openBackup, sealBackup } from '../backup.ts';
import type { WebOps } from '../ops.ts';
import type { RollbackGuard } from '../rollback.ts';
import { adminOf } from '../security.ts';
import type { SystemActions } from '../system-actions.ts';
import { badRequest, zodIssues, type AdminAudit } from './session.ts';

const certBody = z.strictObject({ cert: z.string().min(1).max(65536), key: z.string().min(1).max(65536) });
const backupBody = z.strictObject({ passphrase: z.string().max(1024) });
const restoreBody = z.strictObject({
  file: z.string().min(1).max(MAX_BACKUP_BYTES),
  passphrase: z.string().max(1024),
});
/** The admin types the action's name, so a stray click or a replayed request does nothing. */
const rebootBody = z.strictObject({ confirm: z.literal('reboot') });
const resetBody = z.strictObject({ confirm: z.literal('factory reset'), password: z.string().max(256) });

export const REBOOT_DELAY_MS = 1000;

export interface SystemRouteDeps {
  ops?: WebOps;
  system?: SystemActions;
  rollback: RollbackGuard;
  admins: AdminStore;
  audit: AdminAudit;
  /** [0...10000] ms between the answer and the reboot, so the page sees its 202; default 1000. */
  rebootDelayMs?: number;
}

function who(req: FastifyRequest): { actor: string; source: string } {
  return { actor: adminOf(req), source: req.ip };
}

export function registerSystemRoutes(app: FastifyInstance, d: SystemRouteDeps): void {
  const { audit, rollback } = d;
  const install = d.ops?.installCertificate?.bind(d.ops);
  if (install)
    app.post('/api/system/certificate', async (req, reply) => {
      const body = certBody.safeParse(req.body);
      if (!body.success) return badRequest(reply, 'send {"cert": PEM, "key": PEM}', zodIssues(body.error));
      const waiting = rollback.pending();
      if (waiting)
        return reply.code(409).send({
          statusCode: 409,
          error: 'Conflict',
          message: `confirm or roll back the waiting change (${waiting.what}) first`,
        });
      try {
        const r = await install(body.data);
        await audit({
          action: 'tls-certificate',
          ...who(req),
          outcome: 'ok',
          detail: `${r.info.subject}, valid to ${r.info.validTo}${r.restartNeeded ? ' (used after a restart with web.tls on)' : ''}`,
        });
        const undo = r.undo;
        const confirm = undo ? rollback.arm('web certificate', adminOf(req), undo) : undefined;
        return { ...r.info, restartNeeded: r.restartNeeded, ...(confirm ? { confirm } : {}) };
      } catch (e) {
        if (!isMfaError(e)) throw e;
        await audit({ action: 'tls-certificate', ...who(req), outcome: 'failed', detail: e.message });
        return badRequest(reply, e.message, [{ path: e.field ?? '', message: e.message }]);
      }
    });

  const sys = d.system;
  if (!sys) return;

  app.post(
    '/api/system/backup',
    { config: { rateLimit: { max: 5, timeWindow: 60_000 } } },
    async (req, reply) => {
      const body = backupBody.safeParse(req.body);
      if (!body.success) return badRequest(reply, 'send {"passphrase"}', zodIssues(body.error));
      let file: string;
      try {
        file = await sealBackup(await sys.backup(), body.data.passphrase);
      } catch (e) {
        if (isMfaError(e)) return badRequest(reply, e.message, [{ path: e.field ?? '', message: e.message }]);
        throw e;
      }
      await audit({ action: 'backup-downloaded', ...who(req), outcome: 'ok' });
      const stamp = new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-');
      return reply
        .type('application/json; charset=utf-8')
        .header('content-disposition', `attachment; filename="mfabox-${stamp}.mfabox-backup"`)
        .send(file);
    },
  );

  app.post(
    '/api/system/restore',
    { bodyLimit: MAX_BACKUP_BYTES + 64 * 1024, config: { rateLimit: { max: 5, timeWindow: 60_000 } } },
    async (req, reply) => {
      const body = restoreBody.safeParse(req.body);
      if (!body.success)
        return badRequest(
          reply,
          'send {"file": the backup file\'s text, "passphrase"}',
          zodIssues(body.error),
        );
      if (rollback.pending())
        return reply.code(409).send({
          statusCode: 409,
          error: 'Conflict',
          message: 'confirm or roll back the waiting change first',
        });
      try {
        const contents = await openBackup(body.data.file, body.data.passphrase);
        const r = await sys.restore(contents, adminOf(req));
        await audit({
          action: 'backup-restored',
          ...who(req),
          outcome: 'ok',
          detail: `backup of ${contents.createdAt} (firmware ${contents.firmware}); revision ${r.revision}${r.restartNeeded.length ? `; restart needed for ${r.restartNeeded.join(', ')}` : ''}`,
        });
        return r;
      } catch (e) {
        if (!isMfaError(e)) throw e;
        await audit({ action: 'backup-restored', ...who(req), outcome: 'failed', detail: e.message });
        const issues =
          e instanceof ConfigRejected
            ? e.issues.map((i) => ({ path: `config.${i.path}`, message: i.message }))
            : [{ path: e.field ?? '', message: e.message }];
        const status = isMfaError(e, ErrorCode.ConfigStale) ? 412 : 400;
        return reply.code(status).send({
          statusCode: status,
          error: status === 412 ? 'Precondition Failed' : 'Bad Request',
          code: e.codeName,
          message: e.message,
          issues,
        });
      }
    },
  );

  const later = (fn: () => Promise<void>, what: string): void => {
    const t = setTimeout(() => {
      fn().catch((e: unknown) =>
        audit({
          action: what === 'reboot' ? 'reboot' : 'factory-reset',
          actor: 'system',
          outcome: 'failed',
          detail: describeError(e),
        }),
      );
    }, d.rebootDelayMs ?? REBOOT_DELAY_MS);
    t.unref();
  };

  app.post('/api/system/reboot', async (req, reply) => {
    const body = rebootBody.safeParse(req.body);
    if (!body.success)
      return badRequest(reply, 'to reboot, send {"confirm": "reboot"}', [
        { path: 'confirm', message: 'type "reboot" to confirm' },
      ]);
    await audit({ action: 'reboot', ...who(req), outcome: 'ok' });
    later(() => sys.reboot(), 'reboot');
    return reply.code(202).send({ rebooting: true });
  });

  app.post(
    '/api/system/factory-reset',
    { config: { rateLimit: { max: 5, timeWindow: 60_000 } } },
    async (req, reply) => {
      const body = resetBody.safeParse(req.body);
      if (!body.success)
        return badRequest(reply, 'to reset, send {"confirm": "factory reset", "password": your password}', [
          { path: 'confirm', message: 'type "factory reset" to confirm' },
        ]);
      // The admin's own password again: a session left open on a desk must not be enough to wipe the box.
      const check = await d.admins.verify(adminOf(req), body.data.password);
      if (!check.ok) {
        await audit({ action: 'factory-reset', ...who(req), outcome: 'failed', detail: 'wrong password' });
        return badRequest(reply, 'the password is wrong', [{ path: 'password', message: 'wrong password' }]);
      }
      // Written (and sent to syslog) before the reset: the store with this record is emptied after the reboot.
      await audit({ action: 'factory-reset', ...who(req), outcome: 'ok' });
      later(() => sys.factoryReset(), 'factory-reset');
      return reply.code(202).send({ resetting: true });
    },
  );
}
