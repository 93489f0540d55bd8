/**
 * `mfabox admin reset-password [--user NAME]`: the way back in for an admin who lost the web
 * password (like Pi-hole's `pihole setpassword`). Root on the box only: whoever can run it can
 * become a web admin, so the check is the box's own login, never the network. The password is
 * generated, printed once, and must be changed at the next login. It works while the service
 * runs (admins.json is re-read on every login); the audit record goes into the store, or through
 * the running service's loopback API when the service holds the store.
 */
import { AuditLog } from '../audit/audit-log.ts';
import { systemClock } from '../clock.ts';
import { loadConfigFile } from '../config/load.ts';
import { ErrorCode, MfaError } from '../errors.ts';
import { resetAdminPassword } from '../web-api/admins.ts';
import { defineCommand } from './command.ts';
import { callLocalApi, configOption, onStoreOrService } from './local-service.ts';

/** Root only; `uid` is injectable so the refusal is testable without dropping privileges. */
export function requireRoot(uid: number | undefined = process.getuid?.()): void {
  if (uid !== 0)
    throw new MfaError(
      'admin reset-password must run as root on the box itself (sudo mfabox admin reset-password): it hands out web admin access',
      ErrorCode.CliUsage,
    );
}

export const adminResetPasswordCommand = defineCommand({
  name: 'admin reset-password',
  summary: 'Set a new generated web admin password (root on the box only); it must be changed at next login',
  details:
    'Creates the account if it does not exist, so a box whose admin file was lost can be recovered. ' +
    'The new password is printed once and never logged.',
  options: {
    config: configOption,
    user: { type: 'string', value: 'NAME', default: 'admin', help: 'the web admin account' },
  },
  async run({ values }) {
    requireRoot();
    const config = await loadConfigFile(values.config);
    const r = await resetAdminPassword({ dataDir: config.dataDir, username: values.user });
    const record = {
      kind: 'admin',
      action: 'admin-password-reset',
      actor: `cli:${process.env.SUDO_USER ?? 'root'}`.slice(0, 64),
      user: r.username,
      outcome: 'ok',
    } as const;
    try {
      await onStoreOrService(
        config,
        'recording the reset in the audit log',
        async (store) => {
          const audit = new AuditLog(store, systemClock);
          await audit.recordDurable(record);
        },
        () =>
          callLocalApi(config, 'POST', `/api/admins/${encodeURIComponent(r.username)}/reset-notice`, {
            actor: record.actor,
          }),
        () => undefined,
      );
    } catch (e) {
      // The password is already changed: say so, and why the audit record is missing.
      console.error(`warning: the reset is not in the audit log: ${(e as Error).message}`);
    }
    console.log(`Web admin "${r.username}": new password ${r.password}`);
    console.log('(shown once; it must be changed at the next login)');
    return 0;
  },
});
