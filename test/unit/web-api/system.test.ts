/**
 * The System page's API through inject, on real files in a temp directory: backup and restore
 * (encrypted, validated, a clear error on a bad file; the uploaded directory CA included), reboot and factory reset (confirmed,
 * audited, the reboot injected), apply-with-rollback for changes that can lock the admin out,
 * and one admin setting another's password.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigFile } from '../../../firmware/src/config/config-file.ts';
import { LiveConfig } from '../../../firmware/src/config/live-config.ts';
import { parseConfig } from '../../../firmware/src/config/load.ts';
import { ErrorCode, isMfaError } from '../../../firmware/src/errors.ts';
import type { HealthSnapshot } from '../../../firmware/src/health/health.ts';
import { AdminStore, DEMO_ADMIN, resetAdminPassword } from '../../../firmware/src/web-api/admins.ts';
import { buildApp } from '../../../firmware/src/web-api/app.ts';
import { openBackup, sealBackup, type BackupContents } from '../../../firmware/src/web-api/backup.ts';
import { DIRECTORY_CA_FILE } from '../../../firmware/src/web-api/routes/directory-ca.ts';
import type { AdminEvent } from '../../../firmware/src/web-api/routes/session.ts';
import {
  FACTORY_RESET_MARKER,
  createSystemActions,
  finishFactoryReset,
} from '../../../firmware/src/web-api/system-actions.ts';
import { loadOrCreateTls, tlsPaths } from '../../../firmware/src/web-api/tls.ts';
import { adminClient, login } from '../../helpers/web.ts';
import type { FastifyInstance } from 'fastify';

const SECRET = 'nas-secret-0123456789';
const PASSPHRASE = 'correct horse battery';
const initial = { radius: { clients: [{ name: 'ns1', address: '10.0.0.5', secret: SECRET }] } };

describe('backup file format', () => {
  const contents: BackupContents = {
    createdAt: '2026-12-06T04:00:00.000Z',
    firmware: '0.1.0',
    config: initial,
    deviceKey: randomBytes(32).toString('base64'),
  };

  it('round-trips, and holds no secret in clear', async () => {
    const file = await sealBackup(contents, PASSPHRASE);
    expect(file).not.toContain(SECRET);
    expect(file).not.toContain(contents.deviceKey);
    expect(JSON.parse(file)).toMatchObject({ format: 'mfabox-backup', version: 1, cipher: 'aes-256-gcm' });
    expect(await openBackup(file, PASSPHRASE)).toEqual(contents);
  });

  it('refuses a wrong passphrase, a changed header, another file and a short passphrase, by code', async () => {
    const file = await sealBackup(contents, PASSPHRASE);
    const code = async (p: Promise<unknown>): Promise<string> =>
      p.then(
        () => 'ok',
        (e: unknown) => (isMfaError(e) ? (e.codeName ?? String(e.code)) : String(e)),
      );
    expect(await code(openBackup(file, 'wrong passphrase!'))).toBe('BackupWrongPassphrase');
    const env = JSON.parse(file) as { createdAt: string };
    const altered = JSON.stringify({ ...env, createdAt: '2020-01-01T00:00:00.000Z' });
    expect(await code(openBackup(altered, PASSPHRASE))).toBe('BackupWrongPassphrase');
    expect(await code(openBackup('{"hello":1}', PASSPHRASE))).toBe('BackupInvalid');
    expect(await code(openBackup('PK\u0003\u0004 a zip file', PASSPHRASE))).toBe('BackupInvalid');
    expect(await code(sealBackup(contents, 'short'))).toBe('BackupInvalid');
  });
});

describe('System API', () => {
  let dir: string;
  let dataDir: string;
  let app: FastifyInstance;
  let file: ConfigFile;
  let live: LiveConfig;
  let admins: AdminStore;
  let audits: AdminEvent[];
  let reboots: number;
  let rollbackMs: number;

  const build = async (): Promise<void> => {
    file = await ConfigFile.open(join(dir, 'config.json'), { create: { ...initial, dataDir } });
    live = new LiveConfig(
      {
        file,
        effective: (c) => c,
        apply: async () => ({ restartNeeded: [] }),
        audit: async () => undefined,
      },
      parseConfig(file.current()),
    );
    admins = new AdminStore(join(dataDir, 'admins.json'));
    await admins.ensureFirst({ demo: true });
    app = await buildApp({
      health: () => ({ status: 'ok' }) as unknown as HealthSnapshot,
      audit: async (e) => void audits.push(e),
      admins,
      // The guards read the live config, as startWeb's do: a change to adminNetworks applies at once.
      security: () => ({
        hosts: live.current.web.hosts,
        adminNetworks: live.current.web.adminNetworks,
        sessionIdleMinutes: 30,
      }),
      config: live,
      system: createSystemActions({
        configFile: file,
        live,
        dataDir,
        deviceKeyFile: join(dataDir, 'device.key'),
        adminsFile: join(dataDir, 'admins.json'),
        firmware: async () => '0.1.0-test',
        // Injected: this test runs as root in CI, where the real reboot would reboot the machine.
        reboot: async () => void (reboots += 1),
      }),
      rollbackMs,
      rebootDelayMs: 10,
    });
  };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mfabox-system-'));
    dataDir = join(dir, 'data');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'device.key'), randomBytes(32), { mode: 0o600 });
    audits = [];
    reboots = 0;
    rollbackMs = 60_000;
    await build();
  });
  afterEach(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const patch = async (
    headers: Record<string, string>,
    body: object,
    remoteAddress?: string,
  ): Promise<{ statusCode: number; json: Record<string, unknown> }> => {
    const cur = await app.inject({
      url: '/api/config',
      headers,
      ...(remoteAddress ? { remoteAddress } : {}),
    });
    const rev = String(cur.json<{ revision: number }>().revision);
    const res = await app.inject({
      method: 'PATCH',
      url: '/api/config',
      headers: { ...headers, 'if-match': rev },
      payload: body,
      ...(remoteAddress ? { remoteAddress } : {}),
    });
    return { statusCode: res.statusCode, json: res.json() };
  };

  it('every new POST needs a session (401) and the CSRF token (403)', async () => {
    const routes: [string, object][] = [
      ['/api/system/backup', { passphrase: PASSPHRASE }],
      ['/api/system/restore', { file: '{}', passphrase: PASSPHRASE }],
      ['/api/system/reboot', { confirm: 'reboot' }],
      ['/api/system/factory-reset', { confirm: 'factory reset', password: 'demo-admin' }],
      ['/api/pending/confirm', { id: 'x' }],
      ['/api/pending/rollback', {}],
      ['/api/admins/admin/password', { password: 'a-long-new-password' }],
    ];
    const { cookie } = await login(app);
    for (const [url, payload] of routes) {
      expect((await app.inject({ method: 'POST', url, payload })).statusCode, url).toBe(401);
      expect((await app.inject({ method: 'POST', url, payload, headers: { cookie } })).statusCode, url).toBe(
        403,
      );
    }
    expect((await app.inject({ url: '/api/pending' })).statusCode).toBe(401);
    expect(reboots).toBe(0);
  });

  it('downloads an encrypted backup and restores it: config, device key and admins back, audited', async () => {
    const admin = await adminClient(app);
    const res = await admin.post('/api/system/backup', { passphrase: PASSPHRASE });
    expect(res.statusCode).toBe(200);
    expect(String(res.headers['content-disposition'])).toMatch(
      /attachment; filename="mfabox-.*\.mfabox-backup"/,
    );
    expect(res.body).not.toContain(SECRET);
    const backup = res.body;
    const keyBefore = readFileSync(join(dataDir, 'device.key'));

    // Change things after the backup: a client removed, another admin, a new device key.
    expect((await patch(admin.headers, { radius: { clients: [] } })).statusCode).toBe(200);
    await admins.add('bob', 'bobs-long-password');
    writeFileSync(join(dataDir, 'device.key'), randomBytes(32));

    const wrong = await admin.post('/api/system/restore', { file: backup, passphrase: 'not the passphrase' });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json()).toMatchObject({ code: 'BackupWrongPassphrase', message: /passphrase is wrong/ });
    expect(file.current()).toMatchObject({ radius: { clients: [] } });

    const ok = await admin.post('/api/system/restore', { file: backup, passphrase: PASSPHRASE });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ revision: 3, restartNeeded: ['device key'] });
    expect(ok.body).not.toContain(SECRET);
    expect(file.current()).toMatchObject(initial);
    expect(readFileSync(join(dataDir, 'device.key')).equals(keyBefore)).toBe(true);
    expect((await admins.list()).map((a) => a.username)).toEqual(['admin']);
    expect(audits.map((a) => [a.action, a.outcome])).toEqual(
      expect.arrayContaining([
        ['backup-downloaded', 'ok'],
        ['backup-restored', 'failed'],
        ['backup-restored', 'ok'],
      ]),
    );
  });

  it('backs up and restores the uploaded directory CA; a damaged one refuses the whole file', async () => {
    const admin = await adminClient(app);
    const caFile = join(dataDir, DIRECTORY_CA_FILE);
    const backupNow = async (): Promise<string> => {
      const res = await admin.post('/api/system/backup', { passphrase: PASSPHRASE });
      expect(res.statusCode).toBe(200);
      return res.body;
    };
    // No CA uploaded: the backup has none, and restoring it leaves the box's alone.
    expect(await openBackup(await backupNow(), PASSPHRASE)).not.toHaveProperty('directoryCa');

    const [caA, caB] = await Promise.all(
      ['ca-a', 'ca-b'].map((n) => loadOrCreateTls(tlsPaths(join(dir, n), {}))),
    );
    expect((await admin.post('/api/directory/ca', { pem: caA?.cert })).statusCode).toBe(200);
    const uploaded = readFileSync(caFile, 'utf8');
    const backup = await backupNow();
    expect(backup).not.toContain('BEGIN CERTIFICATE');
    expect((await openBackup(backup, PASSPHRASE)).directoryCa).toBe(uploaded);

    // Another CA uploaded after the backup; the restore puts the first back.
    expect((await admin.post('/api/directory/ca', { pem: caB?.cert })).statusCode).toBe(200);
    expect(readFileSync(caFile, 'utf8')).not.toBe(uploaded);
    const ok = await admin.post('/api/system/restore', { file: backup, passphrase: PASSPHRASE });
    expect(ok.statusCode).toBe(200);
    expect(readFileSync(caFile, 'utf8')).toBe(uploaded);
    expect(statSync(caFile).mode & 0o777).toBe(0o600);

    // A backup whose CA is not a certificate is refused before anything is written.
    const revision = file.revision();
    const damaged = await sealBackup(
      {
        ...(await openBackup(backup, PASSPHRASE)),
        config: { ...initial, passcode: { length: 8 } },
        directoryCa: 'not a certificate',
      },
      PASSPHRASE,
    );
    const bad = await admin.post('/api/system/restore', { file: damaged, passphrase: PASSPHRASE });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'BackupInvalid', message: /directory CA/ });
    expect(file.revision()).toBe(revision);
    expect(readFileSync(caFile, 'utf8')).toBe(uploaded);
  });

  it('refuses a backup whose config does not validate, naming the field, and changes nothing', async () => {
    const admin = await adminClient(app);
    const sealed = await sealBackup(
      {
        createdAt: new Date().toISOString(),
        firmware: 'x',
        config: { radius: { clients: [{ name: 'bad', address: 'not-an-address', secret: SECRET }] } },
        deviceKey: randomBytes(32).toString('base64'),
      },
      PASSPHRASE,
    );
    const keyBefore = readFileSync(join(dataDir, 'device.key'));
    const res = await admin.post('/api/system/restore', { file: sealed, passphrase: PASSPHRASE });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'BackupInvalid', message: /radius\.clients\.0\.address/ });
    expect(res.body).not.toContain(SECRET);
    expect(file.revision()).toBe(1);
    expect(readFileSync(join(dataDir, 'device.key')).equals(keyBefore)).toBe(true);

    const junk = await admin.post('/api/system/restore', {
      file: 'this is not a backup',
      passphrase: PASSPHRASE,
    });
    expect(junk.json()).toMatchObject({ statusCode: 400, code: 'BackupInvalid', message: /not JSON/ });
  });

  it('reboots only when confirmed, after answering, and audits it', async () => {
    const admin = await adminClient(app);
    const no = await admin.post('/api/system/reboot', {});
    expect(no.statusCode).toBe(400);
    const yes = await admin.post('/api/system/reboot', { confirm: 'reboot' });
    expect(yes.statusCode).toBe(202);
    await vi.waitFor(() => expect(reboots).toBe(1), { timeout: 5000 });
    expect(audits).toContainEqual(
      expect.objectContaining({ action: 'reboot', actor: 'admin', outcome: 'ok' }),
    );
  });

  it('factory reset needs the phrase and the password; resets config, admins and history; the next start empties the data', async () => {
    const admin = await adminClient(app);
    expect((await patch(admin.headers, { passcode: { length: 8 } })).statusCode).toBe(200);
    expect(readdirSync(file.historyDir)).not.toEqual([]);
    const wrongPw = await admin.post('/api/system/factory-reset', {
      confirm: 'factory reset',
      password: 'not-my-password',
    });
    expect(wrongPw.statusCode).toBe(400);
    expect(existsSync(join(dataDir, FACTORY_RESET_MARKER))).toBe(false);
    const res = await admin.post('/api/system/factory-reset', {
      confirm: 'factory reset',
      password: DEMO_ADMIN.password,
    });
    expect(res.statusCode).toBe(202);
    await vi.waitFor(() => expect(reboots).toBe(1), { timeout: 5000 });
    expect(JSON.parse(readFileSync(file.path, 'utf8'))).toEqual({ dataDir });
    expect(existsSync(file.historyDir)).toBe(false);
    expect(existsSync(join(dataDir, 'admins.json'))).toBe(false);
    expect(audits.filter((a) => a.action === 'factory-reset').map((a) => a.outcome)).toEqual([
      'failed',
      'ok',
    ]);

    writeFileSync(join(dataDir, 'LOG'), 'a store file');
    expect(await finishFactoryReset(dataDir)).toBe(true);
    expect(readdirSync(dataDir)).toEqual([]);
    expect(await finishFactoryReset(dataDir)).toBe(false);
  });

  it('rolls back an adminNetworks change that locked the admin out, when nobody confirms it', async () => {
    await app.close();
    rollbackMs = 400;
    await build();
    const lan = '10.1.2.3';
    const admin = await adminClient(app);
    const r = await patch(admin.headers, { web: { adminNetworks: ['192.168.50.0/24'] } }, lan);
    expect(r.statusCode).toBe(200);
    expect(r.json).toMatchObject({ revision: 2, confirm: { what: 'web.adminNetworks', seconds: 0 } });
    // The admin is now locked out from the LAN address...
    expect((await admin.get('/api/config', { remoteAddress: lan })).statusCode).toBe(403);
    // ...and the timer puts the old list back.
    await vi.waitFor(() => expect(live.current.web.adminNetworks).toEqual([]), { timeout: 5000 });
    expect((await admin.get('/api/config', { remoteAddress: lan })).statusCode).toBe(200);
    expect(file.revision()).toBe(3);
    expect(audits).toContainEqual(
      expect.objectContaining({ action: 'change-rolled-back', actor: 'system', outcome: 'ok' }),
    );
  });

  it('keeps a change confirmed from the new settings, and refuses other changes while one waits', async () => {
    const admin = await adminClient(app);
    const r = await patch(admin.headers, { web: { adminNetworks: ['10.0.0.0/8'] } });
    const id = (r.json.confirm as { id: string }).id;
    expect((await admin.get('/api/pending')).json()).toMatchObject({ pending: { id } });
    expect((await patch(admin.headers, { passcode: { length: 8 } })).statusCode).toBe(409);
    const bad = await admin.post('/api/pending/confirm', { id: 'nope' });
    expect(bad.statusCode).toBe(409);
    const ok = await admin.post('/api/pending/confirm', { id });
    expect(ok.statusCode).toBe(200);
    expect((await admin.get('/api/pending')).json()).toEqual({ pending: null });
    expect(live.current.web.adminNetworks).toEqual(['10.0.0.0/8']);
    expect(audits).toContainEqual(expect.objectContaining({ action: 'change-confirmed', actor: 'admin' }));
    // A change that cannot lock anyone out does not wait.
    expect((await patch(admin.headers, { passcode: { length: 8 } })).json).not.toHaveProperty('confirm');
  });

  it('one admin sets another admin password, which must be changed at next login; not their own', async () => {
    const admin = await adminClient(app);
    await admins.add('bob', 'bobs-long-password');
    const self = await admin.post('/api/admins/admin/password', { password: 'another-long-password' });
    expect(self.statusCode).toBe(400);
    const weak = await admin.post('/api/admins/bob/password', { password: 'short' });
    expect(weak.json()).toMatchObject({ statusCode: 400, issues: [{ path: 'password' }] });
    const res = await admin.post('/api/admins/bob/password', { password: 'bobs-new-long-password' });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain('bobs-new-long-password');
    expect(await admins.verify('bob', 'bobs-new-long-password')).toMatchObject({
      ok: true,
      mustChange: true,
    });
    expect(audits).toContainEqual(
      expect.objectContaining({ action: 'admin-password-set', actor: 'admin', user: 'bob', outcome: 'ok' }),
    );
    expect(ErrorCode.BackupInvalid).toBe(805);
  });

  it('records a reset by `mfabox admin reset-password` reported over loopback, only a real one, only from the box', async () => {
    const url = '/api/admins/admin/reset-notice';
    const payload = { actor: 'cli:root' };
    expect((await app.inject({ method: 'POST', url, payload, remoteAddress: '10.0.0.9' })).statusCode).toBe(
      403,
    );
    // No reset happened: nothing to record.
    expect((await app.inject({ method: 'POST', url, payload })).statusCode).toBe(400);
    await resetAdminPassword({ dataDir });
    expect((await app.inject({ method: 'POST', url, payload })).statusCode).toBe(204);
    expect(audits).toContainEqual(
      expect.objectContaining({
        action: 'admin-password-reset',
        actor: 'cli:root',
        user: 'admin',
        outcome: 'ok',
      }),
    );
  });
});
