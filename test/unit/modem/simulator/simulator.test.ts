/** The simulator over a real socat pty, talked to by a raw serialport client as a driver would. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeSubmit } from '../../../../firmware/src/modem/pdu/index.ts';
import { startSimulator, type ModemSimulator } from '../../../../firmware/src/modem/simulator/index.ts';
import { RawClient } from './raw-client.ts';

const sims: ModemSimulator[] = [];
const clients: RawClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(sims.splice(0).map((s) => s.stop()));
});

async function start(
  opts: Parameters<typeof startSimulator>[0] = {},
): Promise<{ sim: ModemSimulator; c: RawClient }> {
  const sim = await startSimulator({ smsDelayMs: 20, ...opts });
  sims.push(sim);
  const c = await RawClient.open(sim.path);
  clients.push(c);
  return { sim, c };
}

async function sendPdu(c: RawClient, to: string, text: string): Promise<string[]> {
  const finals: string[] = [];
  for (const p of encodeSubmit({ to, text })) {
    await c.send(`AT+CMGS=${p.tpduLength}\r`, /\r\n> $/);
    finals.push(await c.send(`${p.hex}\x1a`, /\r\n(OK|\+CMS ERROR: \d+)\r\n$/));
  }
  return finals;
}

describe('modem simulator over a real pty', () => {
  it('answers AT, sends a concatenated UCS2 SMS and records it in the handset inbox', async () => {
    const { sim, c } = await start();
    expect(await c.send('AT\r')).toBe('AT\r\r\nOK\r\n');
    await c.send('ATE0\r');
    const text = `Kod: 123456 ${'ż'.repeat(70)} 😀`;
    const got = sim.inbox.next();
    const finals = await sendPdu(c, '+48600000000', text);
    expect(finals).toEqual(['\r\n+CMGS: 0\r\n\r\nOK\r\n', '\r\n+CMGS: 1\r\n\r\nOK\r\n']);
    expect(await got).toMatchObject({ to: '+48600000000', text, parts: 2, encoding: 'ucs2' });
  });

  it('logs timestamped wire events in order for benchmarks', async () => {
    const { sim, c } = await start();
    await c.send('ATE0\r');
    await sendPdu(c, '+15550000001', 'x');
    const kinds = sim.log.map((e) => e.kind);
    const at = (k: string): number => kinds.indexOf(k as (typeof kinds)[number]);
    expect(at('boot')).toBe(0);
    expect(at('cmgs-command')).toBeLessThan(at('submit-start'));
    expect(at('submit-start')).toBeLessThan(at('submit-done'));
    const t = (k: string): number => sim.log[at(k)]!.t;
    expect(t('submit-done') - t('submit-start')).toBeGreaterThanOrEqual(19);
    expect(Math.abs(t('boot') - Date.now())).toBeLessThan(60_000);
  });

  it('uses the given link path and removes it on stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mfabox-sim-test-'));
    try {
      const link = join(dir, 'ttyUSB-sim');
      const { sim, c } = await start({ link });
      expect(sim.path).toBe(link);
      expect(await c.send('AT\r')).toContain('OK');
      await c.close();
      await sim.stop();
      expect(existsSync(link)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a link path that is a real file or device, and never deletes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mfabox-sim-test-'));
    try {
      const file = join(dir, 'ttyUSB0');
      writeFileSync(file, 'not a pty');
      await expect(startSimulator({ link: file })).rejects.toMatchObject({ field: 'link' });
      await expect(startSimulator({ link: join(dir, 'a,b') })).rejects.toMatchObject({ field: 'link' });
      expect(readFileSync(file, 'utf8')).toBe('not a pty');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('unplug: the path vanishes, reappears, and the modem has power-cycled (echo on again)', async () => {
    const { sim, c } = await start();
    await c.send('ATE0\r');
    expect(await c.send('AT\r')).toBe('\r\nOK\r\n');
    const unplugged = sim.unplug(300);
    await new Promise((r) => setTimeout(r, 150));
    expect(existsSync(sim.path)).toBe(false);
    await unplugged;
    expect(existsSync(sim.path)).toBe(true);
    await c.close();
    const c2 = await RawClient.open(sim.path);
    clients.push(c2);
    expect(await c2.send('AT\r')).toBe('AT\r\r\nOK\r\n');
    expect(sim.log.map((e) => e.kind)).toEqual(expect.arrayContaining(['unplug', 'replug']));
  });

  it('unplug-mid-send: no final result reaches the host, the port comes back', async () => {
    const { sim, c } = await start({ smsDelayMs: 100 });
    await c.send('ATE0\r');
    sim.fault({ kind: 'unplug-mid-send', ms: 200 });
    const [p] = encodeSubmit({ to: '+15550000001', text: 'x' });
    await c.send(`AT+CMGS=${p!.tpduLength}\r`, /\r\n> $/);
    await expect(c.send(`${p!.hex}\x1a`, /\+CMGS/, 400)).rejects.toThrow(/timeout/);
    await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(sim.path)).toBe(true);
    expect(sim.inbox.messages).toHaveLength(0);
  });

  it('reboot(): boot URCs arrive and the PIN is needed again', async () => {
    const { sim, c } = await start({ profile: 'quectel-ec25', pin: '2468' });
    await c.waitFor(/\+QUSIM: 1\r\n/);
    expect(c.buf).not.toContain('SMS DONE');
    await c.send('ATE0;+CMEE=1\r');
    // The SIM is busy for a moment after boot, as on real Quectel modules: poll as a driver would.
    let cpin = await c.send('AT+CPIN?\r');
    for (let i = 0; i < 20 && cpin.includes('+CME ERROR: 14'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      cpin = await c.send('AT+CPIN?\r');
    }
    expect(cpin).toContain('+CPIN: SIM PIN');
    await c.send('AT+CPIN="2468"\r');
    await c.waitFor(/\+QIND: SMS DONE\r\n/);
    c.buf = '';
    sim.reboot();
    await c.waitFor(/RDY\r\n[\s\S]*\+CPIN: SIM PIN\r\n[\s\S]*\+QUSIM: 1\r\n/);
  });
});

describe('modeswitch', () => {
  it('huawei-e173-modeswitch: AT+CFUN=1,1 answers OK, then the pty is gone for good', async () => {
    const { sim, c } = await start({
      profile: 'huawei-e173-modeswitch',
      profileOverrides: { periodicUrcs: undefined, urcInReply: undefined },
    });
    expect(await c.send('AT+CFUN=1,1\r')).toContain('OK');
    const deadline = Date.now() + 2000;
    while (!sim.atPortGone && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(sim.atPortGone).toBe(true);
    expect(existsSync(sim.path)).toBe(false);
  });
});

describe('profile overrides', () => {
  it('tunes a named profile for a test: a SIM800 without its boot-time SIM busy', async () => {
    const { c } = await start({
      profile: 'sim800',
      profileOverrides: { simBusyAfterBootMs: 0, bootUrcs: [] },
    });
    await c.send('ATE0;+CMEE=1\r');
    expect(await c.send('AT+CPIN?\r')).toContain('+CPIN: READY');
  });
});
