/**
 * `start` serves the page over HTTPS by default: a self-signed certificate made at first start, a
 * first admin password printed once and forced to change, a Secure cookie, plain HTTP that only
 * redirects, a wrong Host refused, and the CLI's plain 127.0.0.1 port.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../firmware/src/config/load.ts';
import { startAppliance, type Appliance } from '../../firmware/src/main.ts';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function request(
  url: string,
  opts: { method?: string; body?: unknown; host?: string } = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string; cert: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = https.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: opts.method ?? 'GET',
        rejectUnauthorized: false,
        headers: {
          ...(opts.host ? { host: opts.host } : {}),
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        const cert = String((res.socket as TLSSocket).getPeerCertificate().subject?.O ?? '');
        let data = '';
        res.on('data', (d: Buffer) => (data += d.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: data,
            cert,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('start over HTTPS (default)', () => {
  let dir: string;
  let app: Appliance;
  let redirectPort: number;
  const printed: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mfabox-https-'));
    redirectPort = await freePort();
    const localPort = await freePort();
    vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(String(line)));
    app = await startAppliance(
      parseConfig({
        dataDir: join(dir, 'data'),
        deviceKeyFile: join(dir, 'device.key'),
        radius: { listen: [{ address: '127.0.0.1', port: 0 }], accountingPort: 0 },
        directory: { kind: 'demo', syncIntervalMinutes: 0 },
        web: { address: '127.0.0.1', port: 0, redirectPort, localPort },
      }),
      { simulator: { profile: 'generic', smsDelayMs: 50 }, noLeds: true },
    );
  }, 60_000);
  afterAll(async () => {
    vi.restoreAllMocks();
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('makes a self-signed certificate and prints a first password that must be changed', async () => {
    expect(app.webUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(existsSync(join(dir, 'data', 'web-tls', 'key.pem'))).toBe(true);
    const line = printed.find((l) => l.includes('First start: web admin "admin"'));
    const password = /password (\S+)/.exec(line ?? '')?.[1] ?? '';
    expect(password).toMatch(/^\w{4}-\w{4}-\w{4}-\w{4}$/);
    expect(readFileSync(join(dir, 'data', 'admins.json'), 'utf8')).not.toContain(password);

    const page = await request(`${app.webUrl}/`);
    expect(page.cert).toBe('MFA Box');
    const login = await request(`${app.webUrl}/api/session`, {
      method: 'POST',
      body: { username: 'admin', password },
    });
    expect(login.status).toBe(200);
    expect(JSON.parse(login.body)).toMatchObject({ mustChange: true });
    expect(String(login.headers['set-cookie'])).toMatch(/; Secure/);
    expect(String(login.headers['set-cookie'])).toMatch(/SameSite=Strict/);
    expect(String(login.headers['strict-transport-security'])).toMatch(/max-age=/);
  });

  it('refuses a wrong Host, and plain HTTP only redirects', async () => {
    expect((await request(`${app.webUrl}/api/session`, { host: 'evil.example' })).status).toBe(421);
    const res = await fetch(`http://127.0.0.1:${redirectPort}/api/config?x=1`, { redirect: 'manual' });
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe(`https://127.0.0.1:${new URL(app.webUrl).port}/api/config`);
  });

  it('keeps a plain loopback port for the mfabox command', async () => {
    expect(app.localWebUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${app.localWebUrl}/api/directory/sync`);
    expect(res.status).toBe(200);
  });
});
