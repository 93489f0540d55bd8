/**
 * The JSON API through inject: every route refuses without a session, every state change
 * without the CSRF token, a bad config names its field, a stale revision gets 412, and no
 * secret is ever echoed. Real ConfigFile on disk; the services' apply is recorded.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configChanges } from '../../../firmware/src/audit/records.ts';
import { ConfigFile } from '../../../firmware/src/config/config-file.ts';
import { LiveConfig } from '../../../firmware/src/config/live-config.ts';
import { parseConfig } from '../../../firmware/src/config/load.ts';
import type { Config } from '../../../firmware/src/config/schema.ts';
import type { WebOps } from '../../../firmware/src/web-api/ops.ts';
import { login, testWeb, type TestWeb } from '../../helpers/web.ts';

const SECRETS = ['nas-secret-0123456789', 'monitor-pw-xyz-0123456', 'bind-pw-secret', '4321'];

const initial = {
  radius: {
    clients: [
      {
        name: 'ns1',
        address: '10.0.0.5',
        secret: SECRETS[0],
        monitorUser: 'mon',
        monitorPassword: SECRETS[1],
      },
    ],
  },
  directory: {
    kind: 'ldap',
    urls: ['ldaps://dc1.corp.example:636'],
    baseDn: 'DC=corp,DC=example',
    bindDn: 'svc@corp.example',
    bindPassword: SECRETS[2],
  },
  modems: [{ name: 'm1', path: '/dev/ttyUSB0', pin: SECRETS[3] }],
};

const ops: WebOps = {
  users: async () => [
    {
      username: 'alice',
      mobile: '+15550000001',
      disabled: false,
      source: 'directory',
      groups: [],
      syncedAt: 0,
    },
  ],
  sendTestSms: async () => ({ modem: 'm1', parts: 1 }),
  serialPorts: async () => ['/dev/serial/by-id/usb-Quectel-if02'],
  recentAudit: async () => [],
  system: async () => ({
    version: '0.1.0',
    node: process.version,
    time: new Date().toISOString(),
    timeZone: 'UTC',
    clockSynced: true,
    uptimeSeconds: 1,
    tls: false,
  }),
};

/** Every route and a body that would pass validation, so only the guard can refuse. */
const ROUTES: { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; url: string; payload?: object }[] = [
  { method: 'GET', url: '/api/health' },
  { method: 'GET', url: '/api/config' },
  { method: 'PATCH', url: '/api/config', payload: { passcode: { length: 8 } } },
  { method: 'DELETE', url: '/api/session' },
  {
    method: 'POST',
    url: '/api/session/password',
    payload: { currentPassword: 'demo-admin', newPassword: 'another-long-pw' },
  },
  { method: 'GET', url: '/api/admins' },
  { method: 'POST', url: '/api/admins', payload: { username: 'bob', password: 'bobs-long-password' } },
  { method: 'DELETE', url: '/api/admins/bob' },
  { method: 'GET', url: '/api/users' },
  { method: 'POST', url: '/api/users/alice/test-sms', payload: {} },
  { method: 'GET', url: '/api/modems/ports' },
  { method: 'GET', url: '/api/modems/profiles' },
  { method: 'POST', url: '/api/directory/test', payload: {} },
  { method: 'POST', url: '/api/directory/ca', payload: { pem: 'x' } },
  { method: 'GET', url: '/api/system' },
];

describe('web API', () => {
  let dir: string;
  let web: TestWeb;
  let file: ConfigFile;
  let applied: Config[];
  let refuse: string | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mfabox-api-'));
    file = await ConfigFile.open(join(dir, 'config.json'), { create: initial });
    applied = [];
    refuse = undefined;
    const live = new LiveConfig(
      {
        file,
        effective: (c) => c,
        apply: async (next) => {
          if (refuse) throw new Error(refuse);
          applied.push(next);
          return { restartNeeded: [] };
        },
        audit: async (who, revision, before, after) =>
          void web.audits.push({
            action: 'config-change',
            actor: who,
            outcome: 'ok',
            changes: configChanges(before, after),
            detail: `revision ${revision}`,
          }),
      },
      parseConfig(initial),
    );
    web = await testWeb({ config: live, ops });
  });
  afterEach(async () => {
    await web.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(ROUTES)('refuses $method $url without a session (401)', async (r) => {
    const res = await web.app.inject({
      method: r.method,
      url: r.url,
      ...(r.payload ? { payload: r.payload } : {}),
    });
    expect(res.statusCode).toBe(401);
    expect(applied).toEqual([]);
  });

  it.each(ROUTES.filter((r) => r.method !== 'GET'))(
    'refuses $method $url without the CSRF token (403)',
    async (r) => {
      const { cookie } = await login(web.app);
      const res = await web.app.inject({
        method: r.method,
        url: r.url,
        headers: { cookie, 'if-match': '1' },
        ...(r.payload ? { payload: r.payload } : {}),
      });
      expect(res.statusCode).toBe(403);
      expect(res.body).toMatch(/csrf/i);
      expect(applied).toEqual([]);
    },
  );

  it('refuses a CSRF token from another session', async () => {
    const a = await login(web.app);
    const b = await login(web.app);
    const res = await web.app.inject({
      method: 'PATCH',
      url: '/api/config',
      headers: { cookie: a.cookie, 'x-csrf-token': b.csrf, 'if-match': '1' },
      payload: { passcode: { length: 8 } },
    });
    expect(res.statusCode).toBe(403);
  });

  it('sets an HttpOnly, SameSite=Strict session cookie, a strict CSP, and no-store', async () => {
    const res = await web.app.inject({
      method: 'POST',
      url: '/api/session',
      payload: { username: 'admin', password: 'demo-admin' },
    });
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('GET /api/config shows every secret as {set} and never its value', async () => {
    const { headers } = await login(web.app);
    const res = await web.app.inject({ url: '/api/config', headers });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ revision: number; config: Config }>();
    expect(body.revision).toBe(1);
    for (const s of SECRETS) expect(res.body).not.toContain(s);
    const c = body.config as unknown as {
      radius: { clients: { secret: unknown; monitorPassword: unknown }[] };
      directory: { bindPassword: unknown };
      modems: { pin: unknown }[];
      web: { monitorToken: unknown };
    };
    expect(c.radius.clients[0]?.secret).toEqual({ set: true });
    expect(c.radius.clients[0]?.monitorPassword).toEqual({ set: true });
    expect(c.directory.bindPassword).toEqual({ set: true });
    expect(c.modems[0]?.pin).toEqual({ set: true });
    expect(c.web.monitorToken).toEqual({ set: false });
  });

  it('PATCH applies a merge patch, keeps secrets sent back as {set: true}, writes the file and audits with secrets masked', async () => {
    const { headers } = await login(web.app);
    const view = (await web.app.inject({ url: '/api/config', headers })).json<{ config: Config }>();
    const clients = [
      ...view.config.radius.clients,
      { name: 'ns2', address: '10.0.0.6', secret: 'new-secret-for-ns2-abc' },
    ];
    const res = await web.app.inject({
      method: 'PATCH',
      url: '/api/config',
      headers: { ...headers, 'if-match': '1' },
      payload: { radius: { clients }, passcode: { smsTemplate: 'Code {code}' } },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ revision: 2, restartNeeded: [] });
    for (const s of [...SECRETS, 'new-secret-for-ns2-abc']) expect(res.body).not.toContain(s);
    const onDisk = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(onDisk.radius.clients[0].secret).toBe(SECRETS[0]);
    expect(onDisk.radius.clients[0].monitorPassword).toBe(SECRETS[1]);
    expect(onDisk.radius.clients[1].secret).toBe('new-secret-for-ns2-abc');
    expect(onDisk.passcode.smsTemplate).toBe('Code {code}');
    expect(applied.at(-1)?.radius.clients.map((c) => c.name)).toEqual(['ns1', 'ns2']);
    // The previous version is kept.
    expect(JSON.parse(readFileSync(join(dir, 'config.json.history', '1.json'), 'utf8'))).toEqual(initial);
    const audit = web.audits.find((a) => a.action === 'config-change');
    expect(audit?.actor).toBe('admin');
    const text = JSON.stringify(audit);
    for (const s of [...SECRETS, 'new-secret-for-ns2-abc']) expect(text).not.toContain(s);
    expect(text).toContain('radius.clients');
    expect(text).toContain('********');
    expect(text).toContain('Code {code}');
  });

  it('PATCH answers 400 naming each bad field, and changes nothing', async () => {
    const { headers } = await login(web.app);
    const res = await web.app.inject({
      method: 'PATCH',
      url: '/api/config',
      headers: { ...headers, 'if-match': '1' },
      payload: {
        passcode: { length: 99, smsTemplate: 'no code here' },
        radius: { clients: [{ name: 'x', address: 'nope', secret: 's' }] },
      },
    });
    expect(res.statusCode).toBe(400);
    const paths = res.json<{ issues: { path: string }[] }>().issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining(['passcode.length', 'passcode.smsTemplate', 'radius.clients.0.address']),
    );
    expect(applied).toEqual([]);
    expect(file.revision()).toBe(1);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual(initial);
  });

  it('PATCH refuses {set: true} for a new client that has no stored secret', async () => {
    const { headers } = await login(web.app);
    const res = await web.app.inject({
      method: 'PATCH',
      url: '/api/config',
      headers: { ...headers, 'if-match': '1' },
      // A renamed client must not inherit another's secret.
      payload: { radius: { clients: [{ name: 'renamed', address: '10.0.0.5', secret: { set: true } }] } },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ issues: { path: string }[] }>().issues[0]?.path).toBe('radius.clients.0.secret');
  });

  it('PATCH answers 412 on a stale revision and 428 without If-Match', async () => {
    const { headers } = await login(web.app);
    const ok = await web.app.inject({
      method: 'PATCH',
      url: '/api/config',
      headers: { ...headers, 'if-match': '1' },
      payload: { passcode: { length: 7 } },
    });
    expect(ok.statusCode).toBe(200);
    const stale = await web.app.inject({
      method: 'PATCH',
      url: '/api/config',
      headers: { ...headers, 'if-match': '1' },
      payload: { passcode: { length: 8 } },
    });
    expect(stale.statusCode).toBe(412);
    expect(stale.json<{ revision: number }>().revision).toBe(2);
    const none = await web.app.inject({
      method: 'PATCH',
      url: '/api/config',
      headers,
      payload: { passcode: { length: 8 } },
    });
    expect(none.statusCode).toBe(428);
    expect(applied.map((c) => c.passcode.length)).toEqual([7]);
  });

  it('PATCH writes nothing when a running service refuses the change', async () => {
    const { headers } = await login(web.app);
    refuse = 'client table refused';
    const res = await web.app.inject({
      method: 'PATCH',
      url: '/api/config',
      headers: { ...headers, 'if-match': '1' },
      payload: { passcode: { length: 7 } },
    });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('client table refused');
    expect(file.revision()).toBe(1);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual(initial);
  });

  it('refuses a wrong Host (DNS rebinding) with 421, before login', async () => {
    const res = await web.app.inject({
      method: 'POST',
      url: '/api/session',
      headers: { host: 'attacker.example' },
      payload: { username: 'admin', password: 'demo-admin' },
    });
    expect(res.statusCode).toBe(421);
  });

  it('refuses a cross-site POST (foreign Origin) even with a valid session and token', async () => {
    const { headers } = await login(web.app);
    const res = await web.app.inject({
      method: 'PATCH',
      url: '/api/config',
      headers: { ...headers, 'if-match': '1', origin: 'https://evil.example', host: 'localhost' },
      payload: { passcode: { length: 7 } },
    });
    expect(res.statusCode).toBe(403);
    const form = await web.app.inject({
      method: 'POST',
      url: '/api/session',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'username=admin&password=demo-admin',
    });
    expect(form.statusCode).toBe(415);
    expect(applied).toEqual([]);
  });

  it('throttles a login brute force: the account locks after 5 failures, the address after 10 tries a minute', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await web.app.inject({
        method: 'POST',
        url: '/api/session',
        payload: { username: 'admin', password: `guess-${i}` },
      });
      codes.push(res.statusCode);
    }
    expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(codes.slice(5, 10).every((c) => c === 429)).toBe(true);
    expect(codes.slice(10)).toEqual([429, 429]);
    // Even the right password is refused while locked.
    const right = await web.app.inject({
      method: 'POST',
      url: '/api/session',
      remoteAddress: '10.9.9.9',
      payload: { username: 'admin', password: 'demo-admin' },
    });
    expect(right.statusCode).toBe(429);
    expect(
      web.audits.filter((a) => a.action === 'web-login-failed' && a.outcome === 'failed').length,
    ).toBeGreaterThanOrEqual(5);
  });

  it('a first password must be changed before anything else', async () => {
    await web.admins.add('ops', 'initial-password-1');
    const s = await login(web.app, { username: 'ops', password: 'initial-password-1' });
    expect((await web.app.inject({ url: '/api/config', headers: s.headers })).statusCode).toBe(403);
    const weak = await web.app.inject({
      method: 'POST',
      url: '/api/session/password',
      headers: s.headers,
      payload: { currentPassword: 'initial-password-1', newPassword: 'short' },
    });
    expect(weak.statusCode).toBe(400);
    expect(weak.json<{ issues: { path: string }[] }>().issues[0]?.path).toBe('newPassword');
    const ok = await web.app.inject({
      method: 'POST',
      url: '/api/session/password',
      headers: s.headers,
      payload: { currentPassword: 'initial-password-1', newPassword: 'a-much-better-pass' },
    });
    expect(ok.statusCode).toBe(200);
    expect((await web.app.inject({ url: '/api/config', headers: s.headers })).statusCode).toBe(200);
    expect(readFileSync(join(web.dir, 'admins.json'), 'utf8')).not.toContain('a-much-better-pass');
  });

  it('logs out: the old cookie is worthless afterwards', async () => {
    const s = await login(web.app);
    expect(
      (await web.app.inject({ method: 'DELETE', url: '/api/session', headers: s.headers })).statusCode,
    ).toBe(204);
    expect((await web.app.inject({ url: '/api/config', headers: s.headers })).statusCode).toBe(401);
  });

  it('the monitoring token reads /api/health and nothing else', async () => {
    web.security.monitorToken = 'monitor-token-0123456789abcdef';
    const auth = { authorization: 'Bearer monitor-token-0123456789abcdef' };
    expect((await web.app.inject({ url: '/api/health', headers: auth })).statusCode).toBe(200);
    expect(
      (await web.app.inject({ url: '/api/health', headers: { authorization: 'Bearer wrong' } })).statusCode,
    ).toBe(401);
    expect((await web.app.inject({ url: '/api/config', headers: auth })).statusCode).toBe(401);
  });

  it('the admin network allow-list refuses other addresses, even with the right password', async () => {
    web.security.adminNetworks = ['192.168.10.0/24'];
    const payload = { username: 'admin', password: 'demo-admin' };
    expect(
      (await web.app.inject({ method: 'POST', url: '/api/session', remoteAddress: '10.0.0.9', payload }))
        .statusCode,
    ).toBe(403);
    expect(
      (await web.app.inject({ method: 'POST', url: '/api/session', remoteAddress: '192.168.10.7', payload }))
        .statusCode,
    ).toBe(200);
  });

  it('test SMS, users, ports and system answer an admin', async () => {
    const { headers } = await login(web.app);
    const sms = await web.app.inject({
      method: 'POST',
      url: '/api/users/alice/test-sms',
      headers,
      payload: {},
    });
    expect(sms.json()).toEqual({ modem: 'm1', parts: 1 });
    const missing = await web.app.inject({
      method: 'POST',
      url: '/api/users/zed/test-sms',
      headers,
      payload: {},
    });
    expect(missing.statusCode).toBe(404);
    expect(
      (await web.app.inject({ url: '/api/users?q=ali', headers })).json<{ users: unknown[] }>().users,
    ).toHaveLength(1);
    expect((await web.app.inject({ url: '/api/modems/ports', headers })).json()).toEqual({
      ports: ['/dev/serial/by-id/usb-Quectel-if02'],
    });
    expect((await web.app.inject({ url: '/api/system', headers })).json<{ version: string }>().version).toBe(
      '0.1.0',
    );
  });

  it('manages admin accounts: add (forced change), refuse a weak password, remove; never the last one or yourself', async () => {
    const { headers } = await login(web.app);
    const weak = await web.app.inject({
      method: 'POST',
      url: '/api/admins',
      headers,
      payload: { username: 'bob', password: 'short' },
    });
    expect(weak.statusCode).toBe(400);
    const add = await web.app.inject({
      method: 'POST',
      url: '/api/admins',
      headers,
      payload: { username: 'bob', password: 'bobs-long-password' },
    });
    expect(add.statusCode).toBe(201);
    const list = (await web.app.inject({ url: '/api/admins', headers })).json<{
      admins: { username: string; mustChange: boolean }[];
    }>();
    expect(list.admins.map((a) => [a.username, a.mustChange])).toEqual([
      ['admin', false],
      ['bob', true],
    ]);
    expect(JSON.stringify(list)).not.toMatch(/scrypt|hash/);
    expect((await web.app.inject({ method: 'DELETE', url: '/api/admins/admin', headers })).statusCode).toBe(
      400,
    );
    expect((await web.app.inject({ method: 'DELETE', url: '/api/admins/bob', headers })).statusCode).toBe(
      204,
    );
  });
});
