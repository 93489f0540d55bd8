/**
 * `mfabox admin reset-password`: root only, a generated password printed once and forced to
 * change, the account created when missing, and the reset in the audit log (the store path;
 * the service path's loopback notice is in test/unit/web-api/system.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuditLog } from '../../../firmware/src/audit/audit-log.ts';
import { systemClock } from '../../../firmware/src/clock.ts';
import { adminResetPasswordCommand, requireRoot } from '../../../firmware/src/commands/admin.ts';
import { COMMANDS } from '../../../firmware/src/commands/index.ts';
import { ErrorCode, isMfaError } from '../../../firmware/src/errors.ts';
import { openStore } from '../../../firmware/src/store/store.ts';
import { AdminStore } from '../../../firmware/src/web-api/admins.ts';

describe('mfabox admin reset-password', () => {
  let dir: string;
  let config: string;
  let lines: string[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mfabox-admin-cli-'));
    config = join(dir, 'config.json');
    // web.tls false and port 1: should the store path fail, no service answers there either.
    writeFileSync(config, JSON.stringify({ dataDir: join(dir, 'data'), web: { tls: false, port: 1 } }));
    lines = [];
    vi.spyOn(console, 'log').mockImplementation((s: unknown) => void lines.push(String(s)));
  });
  afterEach(() => {
    vi.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is a registered command with --help', async () => {
    expect(COMMANDS.map((c) => c.name)).toContain('admin reset-password');
    expect(await adminResetPasswordCommand.run(['--help'])).toBe(0);
    expect(lines.join('\n')).toMatch(/Usage: mfabox admin reset-password --config FILE \[--user NAME\]/);
  });

  it('refuses anyone but root', () => {
    let err: unknown;
    try {
      requireRoot(1000);
    } catch (e) {
      err = e;
    }
    expect(isMfaError(err, ErrorCode.CliUsage)).toBe(true);
    expect(String(err)).toMatch(/must run as root/);
    expect(() => requireRoot(0)).not.toThrow();
  });

  it.skipIf(process.getuid?.() !== 0)(
    'creates or resets the account, prints the password once, forces a change, audits',
    async () => {
      const admins = new AdminStore(join(dir, 'data', 'admins.json'));
      await admins.ensureFirst();
      expect(await adminResetPasswordCommand.run(['--config', config, '--user', 'admin'])).toBe(0);
      const password = /new password (\S+)/.exec(lines.join('\n'))?.[1] ?? '';
      expect(password).toMatch(/^\w{4}-\w{4}-\w{4}-\w{4}$/);
      expect(readFileSync(join(dir, 'data', 'admins.json'), 'utf8')).not.toContain(password);
      expect(await admins.verify('admin', password)).toMatchObject({ ok: true, mustChange: true });

      const store = await openStore(join(dir, 'data'));
      try {
        const audit = new AuditLog(store, systemClock);
        const recs = [];
        for await (const e of audit.query({ kinds: ['admin'] }, { order: 'desc', limit: 10 }))
          recs.push(e.record);
        expect(recs).toContainEqual(
          expect.objectContaining({ action: 'admin-password-reset', user: 'admin', outcome: 'ok' }),
        );
        expect(JSON.stringify(recs)).not.toContain(password);
      } finally {
        await store.close();
      }
    },
  );
});
