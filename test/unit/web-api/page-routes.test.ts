/**
 * The routes behind the modems, directory and dashboard pages, through inject: Test connection
 * runs on the unsaved form with the stored bind password (never echoed), and really walks a DC
 * (a closed port fails at TCP with its hint); the 24 h activity buckets logins and SMS send times.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../../firmware/src/audit/audit-log.ts';
import type { AuditFilter } from '../../../firmware/src/audit/query.ts';
import type { AuditRecord } from '../../../firmware/src/audit/records.ts';
import { ConfigFile } from '../../../firmware/src/config/config-file.ts';
import { LiveConfig } from '../../../firmware/src/config/live-config.ts';
import { parseConfig } from '../../../firmware/src/config/load.ts';
import type { LdapDirectoryConfig } from '../../../firmware/src/config/schema.ts';
import { DaySummary } from '../../../firmware/src/web-api/routes/activity.ts';
import { loadOrCreateTls, tlsPaths } from '../../../firmware/src/web-api/tls.ts';
import { login, testWeb, type TestWeb } from '../../helpers/web.ts';

const BIND_PW = 'stored-bind-pw-0123';

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('directory test connection and modem profiles', () => {
  let dir: string;
  let web: TestWeb;
  let tested: LdapDirectoryConfig[];
  let realTest = false;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mfabox-pages-'));
    mkdirSync(join(dir, 'data'));
    const initial = {
      dataDir: join(dir, 'data'),
      directory: {
        kind: 'ldap',
        urls: [`ldap://127.0.0.1:${await closedPort()}`],
        baseDn: 'dc=example,dc=org',
        bindDn: 'cn=svc,dc=example,dc=org',
        bindPassword: BIND_PW,
      },
    };
    const file = await ConfigFile.open(join(dir, 'config.json'), { create: initial });
    const live = new LiveConfig(
      {
        file,
        effective: (c) => c,
        apply: async () => ({ restartNeeded: [] }),
        audit: async () => undefined,
      },
      parseConfig(initial),
    );
    tested = [];
    realTest = false;
    const { testDirectory } = await import('../../../firmware/src/directory/diagnose.ts');
    web = await testWeb({
      config: live,
      directoryTester: async (cfg, o) => {
        tested.push(cfg);
        if (realTest) return testDirectory(cfg, o);
        o.out('  ok      bind    as someone');
        return { passed: 1, total: 1 };
      },
    });
  });
  afterEach(async () => {
    await web.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = async (payload: object) => {
    const { headers } = await login(web.app);
    return web.app.inject({ method: 'POST', url: '/api/directory/test', headers, payload });
  };

  it('tests the unsaved form, with the stored bind password for {"set": true}, and never echoes it', async () => {
    const res = await post({
      directory: { group: 'VPN MFA', bindPassword: { set: true } },
      user: 'alice',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ ok: true, passed: 1, total: 1 });
    expect(tested[0]?.group).toBe('VPN MFA');
    expect(tested[0]?.bindPassword).toBe(BIND_PW);
    expect(res.body).not.toContain(BIND_PW);
    // Nothing was saved.
    const { headers } = await login(web.app);
    const cfg = await web.app.inject({ url: '/api/config', headers });
    expect(cfg.json<{ revision: number }>().revision).toBe(1);
    expect(cfg.body).not.toContain('VPN MFA');
  });

  it('names the field of a bad form and refuses a kind without a connection', async () => {
    const bad = await post({ directory: { urls: ['http://dc1'] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ issues: { path: string }[] }>().issues[0]?.path).toBe('directory.urls.0');
    const demo = await post({ directory: { kind: 'demo' } });
    expect(demo.statusCode).toBe(400);
    expect(demo.json<{ issues: { path: string }[] }>().issues[0]?.path).toBe('directory.kind');
    expect(tested).toEqual([]);
  });

  it('walks a real DC URL: a closed port fails at TCP with the hint the CLI prints', async () => {
    realTest = true;
    const res = await post({});
    expect(res.statusCode).toBe(200);
    const body = res.json<{ ok: boolean; lines: string[] }>();
    expect(body.ok).toBe(false);
    expect(body.lines.join('\n')).toMatch(/FAILED {2}TCP/);
    expect(body.lines.join('\n')).toContain('nothing answers on that port');
    expect(body.lines.at(-1)).toBe('0 of 1 domain controller(s) passed.');
  });

  it('stores an uploaded CA bundle in the data directory (certificates only) and audits it', async () => {
    const { cert, key } = await loadOrCreateTls(tlsPaths(join(dir, 'tls'), {}));
    const { headers } = await login(web.app);
    const up = (pem: string) =>
      web.app.inject({ method: 'POST', url: '/api/directory/ca', headers, payload: { pem } });
    const bad = await up('hello');
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ issues: { path: string }[] }>().issues[0]?.path).toBe('pem');
    const res = await up(`${key}\n${cert}`);
    expect(res.statusCode).toBe(200);
    const body = res.json<{ path: string; certificates: { subject: string }[] }>();
    expect(body.path).toBe(join(dir, 'data', 'directory-ca.pem'));
    expect(body.certificates).toHaveLength(1);
    const stored = readFileSync(body.path, 'utf8');
    expect(stored).toContain('BEGIN CERTIFICATE');
    expect(stored).not.toContain('PRIVATE KEY');
    expect(statSync(body.path).mode & 0o777).toBe(0o600);
    expect(web.audits.at(-1)).toMatchObject({ action: 'directory-ca', actor: 'admin', outcome: 'ok' });
  });

  it('lists the modem profiles from hardware/modems, auto first', async () => {
    const { headers } = await login(web.app);
    const res = await web.app.inject({ url: '/api/modems/profiles', headers });
    const p = res.json<{ profiles: string[] }>().profiles;
    expect(p[0]).toBe('auto');
    expect(p.length).toBeGreaterThan(3);
  });
});

describe('modem test send', () => {
  it('sends through the named modem only, checks the number, and audits without the full number', async () => {
    const sent: [string, string][] = [];
    const web = await testWeb({
      modemTest: {
        sendVia: async (modem, to) => {
          if (modem !== 'usb1') throw new Error(`no modem ${modem}`);
          sent.push([modem, to]);
          return { parts: 1 };
        },
        defaultCountry: () => 'DE',
      },
    });
    try {
      const { headers } = await login(web.app);
      const send = (name: string, to: string) =>
        web.app.inject({ method: 'POST', url: `/api/modems/${name}/test-send`, headers, payload: { to } });
      const bad = await send('usb1', 'call me');
      expect(bad.statusCode).toBe(400);
      expect(bad.json<{ issues: { path: string }[] }>().issues[0]?.path).toBe('to');
      const ok = await send('usb1', '0151 12345678');
      expect(ok.json()).toEqual({ modem: 'usb1', parts: 1 });
      expect(sent).toEqual([['usb1', '+4915112345678']]);
      expect(web.audits.at(-1)).toMatchObject({
        action: 'test-sms',
        outcome: 'ok',
        detail: 'to ******5678 through usb1',
      });
      const none = await send('usb9', '+4915112345678');
      expect(none.statusCode).toBe(502);
      expect(web.audits.at(-1)).toMatchObject({ action: 'test-sms', outcome: 'failed' });
      expect(JSON.stringify(web.audits)).not.toContain('12345678');
    } finally {
      await web.close();
    }
  });
});

describe('24 h activity', () => {
  const now = Date.UTC(2026, 11, 6, 12, 2, 30);
  const radius = (t: number, outcome: 'accept' | 'reject' | 'challenge', user = 'alice'): AuditRecord => ({
    kind: 'radius',
    t,
    user,
    client: 'ns1',
    outcome,
    reason: outcome,
  });
  const sms = (t: number, event: 'queued' | 'sent', challengeId: string, at?: number): AuditRecord => ({
    kind: 'sms',
    t,
    event,
    challengeId,
    ...(at === undefined ? {} : { at }),
  });

  it('buckets accepts and rejects per minute, the median SMS send time, and the last decisions', () => {
    const d = new DaySummary(now);
    expect(now - d.since).toBeLessThan(24 * 3600_000);
    expect(now - d.since).toBeGreaterThan(24 * 3600_000 - 5 * 60_000);
    d.add(radius(now - 25 * 3600_000, 'accept')); // older than a day: ignored
    for (let i = 0; i < 10; i++) d.add(radius(now - 60_000, 'accept'));
    d.add(radius(now - 60_000, 'reject', '<img src=x onerror=alert(1)>'));
    d.add(sms(now - 50_000, 'queued', 'c1'));
    d.add(sms(now - 49_000, 'sent', 'c1', now - 48_000));
    d.add(sms(now - 40_000, 'queued', 'c2'));
    d.add(sms(now - 36_000, 'sent', 'c2'));
    d.add(sms(now - 30_000, 'sent', 'never-queued'));
    const r = d.result();
    expect(r.accepts).toHaveLength(288);
    expect(r.accepts.at(-1)).toBe(2); // 10 in a 5-minute bucket
    expect(r.rejects.at(-1)).toBe(0.2);
    expect(r.accepts.slice(0, -1).every((v) => v === 0)).toBe(true);
    expect(r.smsMs.at(-1)).toBe(3000); // median of 2000 and 4000
    expect(r.smsMs.slice(0, -1).every((v) => v === null)).toBe(true);
    expect(r.recent).toHaveLength(11);
    expect(r.recent[0]?.user).toBe('<img src=x onerror=alert(1)>');
  });

  it('GET /api/activity reads one day from the audit log, oldest first', async () => {
    const seen: AuditFilter[] = [];
    const records = [radius(Date.now() - 1000, 'accept', 'bob')];
    const web = await testWeb({
      auditLog: {
        async *query(f: AuditFilter): AsyncIterable<AuditEntry> {
          seen.push(f);
          for (const record of records) yield { key: 'a!1', record };
        },
      },
    });
    try {
      expect((await web.app.inject({ url: '/api/activity' })).statusCode).toBe(401);
      const { headers } = await login(web.app);
      const res = await web.app.inject({ url: '/api/activity', headers });
      expect(res.statusCode).toBe(200);
      const body = res.json<{ accepts: number[]; recent: { user: string }[] }>();
      expect(body.accepts.reduce((a, b) => a + b, 0)).toBe(0.2);
      expect(body.recent.map((x) => x.user)).toEqual(['bob']);
      expect(seen[0]?.kinds).toEqual(['radius', 'sms']);
      expect(Date.now() - (seen[0]?.since ?? 0)).toBeLessThanOrEqual(24 * 3600_000);
    } finally {
      await web.close();
    }
  });
});
