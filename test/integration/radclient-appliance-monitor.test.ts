/**
 * NetScaler's load-balancer monitor against the whole appliance, in process so the test can
 * pull the (simulated) modem's USB plug: radclient → RADIUS → health model → simulator over a pty.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../firmware/src/config/load.ts';
import { startAppliance, type Appliance } from '../../firmware/src/main.ts';
import { q, radclient } from '../helpers/radclient.ts';

const SECRET = 'monitor-test-secret';
const MONITOR_PASSWORD = 'monitor-pass-16-chars';

describe('monitor user (radclient, simulator over a pty)', () => {
  let app: Appliance;
  let dir: string;
  const sms: string[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-monitor-'));
    const config = parseConfig({
      dataDir: dir,
      deviceKeyFile: `${dir}.device.key`,
      radius: {
        listen: [
          { address: '127.0.0.1', port: 0 },
          { address: '::1', port: 0 },
        ],
        accountingPort: 0,
        clients: [
          {
            name: 'netscaler',
            address: '127.0.0.0/8',
            secret: SECRET,
            requireMessageAuthenticator: 'yes',
            monitorUser: 'nsmonitor',
            monitorPassword: MONITOR_PASSWORD,
          },
          // The Gateway's own client: the monitor's name and password are nothing special here.
          { name: 'gateway', address: '::1', secret: SECRET, requireMessageAuthenticator: 'yes' },
        ],
      },
      directory: { kind: 'demo', syncIntervalMinutes: 0 },
      web: { address: '127.0.0.1', port: 0, tls: false },
    });
    app = await startAppliance(config, {
      demo: true,
      simulator: { profile: 'generic', smsDelayMs: 50 },
      onHandsetSms: (to) => sms.push(to),
      waitForModemMs: 20_000,
    });
  });
  afterAll(async () => {
    await app?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(`${dir}.device.key`, { force: true });
  });

  const probe = (password = MONITOR_PASSWORD, target = `127.0.0.1:${app.radiusPort}`) =>
    radclient(target, SECRET, [
      ['User-Name', q('nsmonitor')],
      ['User-Password', q(password)],
      ['Message-Authenticator', '0x00'],
    ]);

  it('answers Reject "healthy" while healthy (never Accept), with no SMS', async () => {
    expect(app.health().status).not.toBe('down');
    const r = await probe();
    expect(r.code).toBe('Access-Reject');
    expect(r.attributes.get('Reply-Message')).toEqual(['healthy']);
    expect(sms).toEqual([]);
  });

  it('does not answer a wrong monitor password', async () => {
    expect((await probe('wrong-but-long-enough')).code).toBeUndefined();
  });

  it('the monitor credentials typed at the Gateway (another client) get Access-Reject, never Accept', async () => {
    const v6 = app.describe().find((l) => l.includes('[::1]:'));
    const port = Number(/\[::1\]:(\d+)/.exec(v6 ?? '')?.[1]);
    expect(port).toBeGreaterThan(0);
    const r = await probe(MONITOR_PASSWORD, `[::1]:${port}`);
    expect(r.code).toBe('Access-Reject');
    expect(r.attributes.get('Reply-Message')).toEqual(['Wrong user name or password']);
    expect(sms).toEqual([]);
  });

  it('stays silent while the modem is unplugged, and answers again once it is back', async () => {
    const sim = app.simulator;
    if (!sim) throw new Error('no simulator');
    const unplugged = sim.unplug(3000);
    // The pool notices the port closing; poll health rather than sleeping a fixed time.
    for (let i = 0; i < 100 && app.health().status !== 'down'; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(app.health().status).toBe('down');
    expect((await probe()).code).toBeUndefined();
    await unplugged;
    for (let i = 0; i < 300 && app.health().status === 'down'; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect((await probe()).code).toBe('Access-Reject');
    expect(sms).toEqual([]);
  });
  it('stays silent while every SMS fails although the modem looks registered (SIM barred)', async () => {
    const sim = app.simulator;
    if (!sim) throw new Error('no simulator');
    sim.fault({ kind: 'cms-error', code: 304, times: 'always' });
    const login = (user: string, password: string) =>
      radclient(`127.0.0.1:${app.radiusPort}`, SECRET, [
        ['User-Name', q(user)],
        ['User-Password', q(password)],
        ['Message-Authenticator', '0x00'],
      ]);
    for (const [u, p] of [
      ['alice', 'alice-pass'],
      ['bob', 'bob-pass'],
      ['alice', 'alice-pass'],
    ] as const) {
      expect((await login(u, p)).code).toBe('Access-Challenge');
      const failedBefore = app.health().outbox?.failed ?? 0;
      for (let i = 0; i < 100 && (app.health().outbox?.failed ?? 0) === failedBefore; i++)
        await new Promise((r) => setTimeout(r, 50));
    }
    expect(app.health().modems[0]?.state).toBe('registered');
    expect(app.health().status).toBe('down');
    expect((await probe()).code).toBeUndefined();
    sim.fault({ kind: 'clear' });
  });
});
