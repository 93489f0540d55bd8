/**
 * Live apply with real radclient against the running appliance (modem simulator, demo directory):
 * while alice's login is between its Access-Challenge and her passcode, and while bob's first
 * round trip is on the wire, one PATCH /api/config adds a RADIUS client, adds a modem, changes the
 * SMS template and swaps the directory. Nothing restarts: both logins complete, the new client
 * logs in at once, the old one keeps working, and the next SMS uses the new template.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigFile } from '../../firmware/src/config/config-file.ts';
import { parseConfig } from '../../firmware/src/config/load.ts';
import { startAppliance, type Appliance } from '../../firmware/src/main.ts';
import { q, radclient } from '../helpers/radclient.ts';

const OLD_SECRET = 'live-old-secret-0123';
const NEW_SECRET = 'live-new-secret-4567';

describe('live apply while logins are in flight (radclient, simulator)', () => {
  let app: Appliance;
  let dir: string;
  const sms: { to: string; text: string }[] = [];
  const waiters: (() => void)[] = [];
  const waitForSms = (n: number, ms = 20_000) =>
    new Promise<{ to: string; text: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no SMS #${n} within ${ms} ms`)), ms);
      const check = (): void => {
        const m = sms[n - 1];
        if (m) {
          clearTimeout(timer);
          resolve(m);
        } else waiters.push(check);
      };
      check();
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-live-'));
    const fileConfig = {
      dataDir: join(dir, 'data'),
      deviceKeyFile: join(dir, 'device.key'),
      radius: {
        listen: [
          { address: '127.0.0.1', port: 0 },
          { address: '::1', port: 0 },
        ],
        accountingPort: 0,
        clients: [{ name: 'ns-old', address: '127.0.0.1', secret: OLD_SECRET }],
      },
      directory: { kind: 'demo', syncIntervalMinutes: 15 },
      web: { address: '127.0.0.1', port: 0, tls: false },
    };
    const configFile = await ConfigFile.open(join(dir, 'config.json'), { create: fileConfig });
    app = await startAppliance(parseConfig(fileConfig), {
      demo: true,
      demoAdmin: true,
      configFile,
      simulator: { profile: 'generic', smsDelayMs: 50 },
      onHandsetSms: (to, text) => {
        sms.push({ to, text });
        for (const w of waiters.splice(0)) w();
      },
      waitForModemMs: 20_000,
      noLeds: true,
    });
  }, 60_000);
  afterAll(async () => {
    await app?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** ns-old is the NAS at 127.0.0.1; the client added live is the NAS at ::1. */
  const login = (secret: string, user: string, password: string, state?: string, v6 = false) =>
    radclient(v6 ? `[::1]:${v6Port()}` : `127.0.0.1:${app.radiusPort}`, secret, [
      ['User-Name', q(user)],
      ['User-Password', q(password)],
      ...(state ? ([['State', state]] as [string, string][]) : []),
      ['Message-Authenticator', '0x00'],
    ]);

  const v6Port = (): number =>
    Number(/\[::1\]:(\d+)/.exec(app.describe().find((l) => l.includes('[::1]:')) ?? '')?.[1]);

  async function adminPatch(patch: object): Promise<{ status: number; body: Record<string, unknown> }> {
    const s = await fetch(`${app.webUrl}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'demo-admin' }),
    });
    const cookie = (s.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const { csrfToken } = (await s.json()) as { csrfToken: string };
    const cur = await fetch(`${app.webUrl}/api/config`, { headers: { cookie } });
    const { revision } = (await cur.json()) as { revision: number };
    const r = await fetch(`${app.webUrl}/api/config`, {
      method: 'PATCH',
      headers: {
        cookie,
        'content-type': 'application/json',
        'x-csrf-token': csrfToken,
        'if-match': String(revision),
      },
      body: JSON.stringify(patch),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  }

  it('completes a login across the change, and the new client, modem and template apply at once', async () => {
    // ::1 is no client yet: its request is dropped.
    expect((await login(NEW_SECRET, 'carol', 'carol-pass', undefined, true)).code).toBeUndefined();
    // alice is between challenge and passcode.
    const c1 = await login(OLD_SECRET, 'alice', 'alice-pass');
    expect(c1.code).toBe('Access-Challenge');
    const state = c1.attributes.get('State')?.[0] ?? '';
    const code = /\b(\d{6})\b/.exec((await waitForSms(1)).text)?.[1] ?? '';
    expect(code).toMatch(/^\d{6}$/);

    // bob's first round trip and the change race each other.
    const [bob, patched] = await Promise.all([
      login(OLD_SECRET, 'bob', 'bob-pass'),
      adminPatch({
        radius: {
          clients: [
            { name: 'ns-old', address: '127.0.0.1', secret: { set: true } },
            { name: 'ns-new', address: '::1', secret: NEW_SECRET },
          ],
        },
        modems: [{ name: 'usb1', path: '/dev/serial/by-id/usb-not-plugged-in-if00', maxPerMinute: 5 }],
        passcode: { smsTemplate: 'LIVE {code}' },
        directory: { syncIntervalMinutes: 0 },
      }),
    ]);
    expect(patched.status).toBe(200);
    expect(patched.body.restartNeeded).toEqual([]);
    expect(JSON.stringify(patched.body)).not.toContain(NEW_SECRET);
    expect(bob.code).toBe('Access-Challenge');

    // alice finishes on the State she got before the change.
    const done = await login(OLD_SECRET, 'alice', code, state);
    expect(done.code).toBe('Access-Accept');

    // The modem list is the pool's now: the simulator keeps sending, the new modem waits for its port.
    const names = app.health().modems.map((m) => m.name);
    expect(names).toEqual(['sim0', 'usb1']);

    // The SMS for bob went out through the simulator after the modem change; the client added
    // live logs in at once, and its SMS uses the new template.
    expect((await waitForSms(2)).to).toBe('+15550000002');
    const viaNew = await login(NEW_SECRET, 'alice', 'alice-pass', undefined, true);
    expect(viaNew.code).toBe('Access-Challenge');
    expect((await waitForSms(3)).text).toMatch(/^LIVE \d{6}$/);
  }, 90_000);
});
