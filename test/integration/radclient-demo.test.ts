/**
 * The whole product path, end to end, with the real peers: FreeRADIUS radclient over UDP → the
 * demo appliance → the modem simulator over a real pty → the simulated handset's SMS line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { q, radclient } from '../helpers/radclient.ts';
import { startDemo, type DemoProcess } from '../helpers/demo-process.ts';

const SECRET = 'mfabox-demo-secret';

describe('demo appliance driven by radclient', () => {
  let demo: DemoProcess;
  let target: string;
  beforeAll(async () => {
    // Trace level: the most verbose logging must still hold no secret (checked last).
    demo = await startDemo(['--sms-ms', '100'], { MFABOX_LOG_LEVEL: 'trace' });
    target = `127.0.0.1:${demo.radiusPort}`;
  });
  afterAll(async () => {
    // Stops cleanly on SIGTERM: exit code 0.
    expect(await demo.stop()).toBe(0);
  });

  const login = (user: string, password: string, state?: string) =>
    radclient(target, SECRET, [
      ['User-Name', q(user)],
      ['User-Password', q(password)],
      ...(state ? ([['State', state]] as [string, string][]) : []),
      ['Message-Authenticator', '0x00'],
    ]);

  it('challenges alice, texts the passcode, and accepts it with the echoed State', async () => {
    const step1 = await login('alice', 'alice-pass');
    expect(step1.code).toBe('Access-Challenge');
    const state = step1.attributes.get('State')?.[0];
    expect(state).toMatch(/^0x[0-9a-f]{32,}$/);
    expect(step1.attributes.get('Reply-Message')?.[0]).toContain('******0001');

    const sms = await demo.waitForSms(1);
    expect(sms.to).toBe('+15550000001');
    const code = /\b(\d{6})\b/.exec(sms.text)?.[1];
    expect(code).toMatch(/^\d{6}$/);

    const step2 = await login('alice', code ?? '', state);
    expect(step2.code).toBe('Access-Accept');
    // The demo client's acceptAttributes: Class "mfabox-demo" (radclient prints octets as hex).
    const cls = step2.attributes.get('Class') ?? [];
    expect(
      cls.map((v) => (v.startsWith('0x') ? Buffer.from(v.slice(2), 'hex').toString('utf8') : v)),
    ).toEqual(['mfabox-demo']);

    // Single use: the same passcode and State a second time are refused.
    const again = await login('alice', code ?? '', state);
    expect(again.code).toBe('Access-Reject');
  });

  it('answers a wrong passcode with a fresh challenge on the same State, then rejects after the last try', async () => {
    const before = demo.sms.length;
    const step1 = await login('DEMO\\bob', 'bob-pass');
    expect(step1.code).toBe('Access-Challenge');
    const state = step1.attributes.get('State')?.[0] ?? '';
    const sms = await demo.waitForSms(before + 1);
    const code = /\b(\d{6})\b/.exec(sms.text)?.[1] ?? '';
    const wrong = code === '000000' ? '111111' : '000000';

    const t1 = await login('bob', wrong, state);
    expect(t1.code).toBe('Access-Challenge');
    expect(t1.attributes.get('State')?.[0]).toBe(state);
    expect(t1.attributes.get('Reply-Message')?.[0]).toMatch(/2 tries left/);
    const t2 = await login('bob', wrong, state);
    expect(t2.code).toBe('Access-Challenge');
    expect(t2.attributes.get('Reply-Message')?.[0]).toMatch(/1 try left/);
    const t3 = await login('bob', wrong, state);
    expect(t3.code).toBe('Access-Reject');
    // The State is dead now: even the right code is refused.
    expect((await login('bob', code, state)).code).toBe('Access-Reject');
  });

  it('rejects a wrong AD password and sends no SMS', async () => {
    const before = demo.sms.length;
    const r = await login('alice', 'not-the-password');
    expect(r.code).toBe('Access-Reject');
    await new Promise((res) => setTimeout(res, 500));
    expect(demo.sms.length).toBe(before);
  });

  it('never logs or serves a password, passcode or shared secret, even at trace level', async () => {
    const logs = demo.stderr();
    expect(logs.length).toBeGreaterThan(0);
    const health = await (await fetch(`${demo.webUrl}/api/health`)).text();
    const passcodes = demo.sms.map((m) => /\b(\d{6})\b/.exec(m.text)?.[1] ?? '').filter((c) => c.length > 0);
    expect(passcodes.length).toBeGreaterThan(0);
    for (const secret of [
      'alice-pass',
      'bob-pass',
      'mfabox-demo-secret',
      'mfabox-demo-monitor',
      ...passcodes,
    ]) {
      expect(logs).not.toContain(secret);
      expect(health).not.toContain(secret);
    }
  });

  it('serves the health API to the demo admin only', async () => {
    expect((await fetch(`${demo.webUrl}/api/health`)).status).toBe(401);
    const login = await fetch(`${demo.webUrl}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'demo-admin' }),
    });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const res = await fetch(`${demo.webUrl}/api/health`, { headers: { cookie } });
    expect(res.status).toBe(200);
    const h = (await res.json()) as { modems: { state: string }[] };
    expect(h.modems.length).toBe(1);
  });
});
