/**
 * Certificate upload on the running appliance over real HTTPS: a key that does not belong to the
 * certificate is refused; a good pair is served to the next TLS connection at once (no restart),
 * key file 0600; a confirmed upload stays; an unconfirmed one is rolled back by the timer and the
 * previous certificate is served again. The peer is Node's TLS client reading the served cert.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../firmware/src/config/load.ts';
import { startAppliance, type Appliance } from '../../firmware/src/main.ts';

interface Answer {
  status: number;
  body: Record<string, unknown>;
  org: string;
  setCookie: string[];
}

/** One request on a new TLS connection (agent: false), so each one sees the served certificate. */
function call(
  url: string,
  method = 'GET',
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method,
        agent: false,
        rejectUnauthorized: false,
        headers: { ...headers, ...(data ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        const org = String((res.socket as TLSSocket).getPeerCertificate().subject?.O ?? '');
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          let json: Record<string, unknown>;
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            json = {};
          }
          resolve({
            status: res.statusCode ?? 0,
            body: json,
            org,
            setCookie: res.headers['set-cookie'] ?? [],
          });
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

async function pair(org: string): Promise<{ cert: string; key: string }> {
  const p = await generate(
    [
      { name: 'commonName', value: 'mfabox.test' },
      { name: 'organizationName', value: org },
    ],
    { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' },
  );
  return { cert: p.cert, key: p.private };
}

describe('certificate upload over HTTPS (live swap, rollback)', () => {
  let dir: string;
  let app: Appliance;
  let headers: Record<string, string>;
  const printed: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mfabox-cert-'));
    vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(String(line)));
    app = await startAppliance(
      parseConfig({
        dataDir: join(dir, 'data'),
        deviceKeyFile: join(dir, 'device.key'),
        radius: { listen: [{ address: '127.0.0.1', port: 0 }], accountingPort: 0 },
        directory: { kind: 'demo', syncIntervalMinutes: 0 },
        web: { address: '127.0.0.1', port: 0, redirectPort: 0, localPort: 0 },
      }),
      { simulator: { profile: 'generic', smsDelayMs: 50 }, noLeds: true, demo: true, rollbackMs: 1500 },
    );
    const first = /password (\S+)/.exec(printed.find((l) => l.includes('First start')) ?? '')?.[1] ?? '';
    const login = await call(`${app.webUrl}/api/session`, 'POST', { username: 'admin', password: first });
    expect(login.status).toBe(200);
    const cookie = (login.setCookie[0] ?? '').split(';')[0] ?? '';
    headers = { cookie, 'x-csrf-token': String(login.body.csrfToken) };
    const changed = await call(
      `${app.webUrl}/api/session/password`,
      'POST',
      { currentPassword: first, newPassword: 'a-new-admin-password' },
      headers,
    );
    expect(changed.status).toBe(200);
  }, 60_000);
  afterAll(async () => {
    vi.restoreAllMocks();
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a key that does not belong to the certificate, and keeps serving the old one', async () => {
    const a = await pair('A');
    const b = await pair('B');
    const r = await call(
      `${app.webUrl}/api/system/certificate`,
      'POST',
      { cert: a.cert, key: b.key },
      headers,
    );
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/does not belong to the certificate/);
    expect(r.org).toBe('MFA Box');
  });

  it('serves an uploaded certificate at once; a confirmed one stays', async () => {
    const p = await pair('Uploaded');
    const r = await call(`${app.webUrl}/api/system/certificate`, 'POST', p, headers);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ restartNeeded: false, confirm: { what: 'web certificate' } });
    expect(JSON.stringify(r.body)).not.toContain('PRIVATE KEY');
    expect((await call(`${app.webUrl}/api/system`, 'GET', undefined, headers)).org).toBe('Uploaded');
    const id = (r.body.confirm as { id: string }).id;
    expect((await call(`${app.webUrl}/api/pending/confirm`, 'POST', { id }, headers)).status).toBe(200);
    await new Promise((res) => setTimeout(res, 2000));
    expect((await call(`${app.webUrl}/api/system`, 'GET', undefined, headers)).org).toBe('Uploaded');
    const keyFile = join(dir, 'data', 'web-tls', 'key.pem');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(keyFile, 'utf8')).toBe(p.key);
  });

  it('rolls an unconfirmed upload back: the previous certificate is served again', async () => {
    const r = await call(`${app.webUrl}/api/system/certificate`, 'POST', await pair('Unconfirmed'), headers);
    expect(r.status).toBe(200);
    expect((await call(`${app.webUrl}/api/system`, 'GET', undefined, headers)).org).toBe('Unconfirmed');
    await vi.waitFor(
      async () =>
        expect((await call(`${app.webUrl}/api/system`, 'GET', undefined, headers)).org).toBe('Uploaded'),
      { timeout: 15_000, interval: 300 },
    );
    expect(readFileSync(join(dir, 'data', 'web-tls', 'cert.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
    expect(
      (await call(`${app.webUrl}/api/system`, 'GET', undefined, headers)).body.certificate,
    ).toMatchObject({
      subject: expect.stringContaining('O=Uploaded') as unknown,
    });
  });
});
