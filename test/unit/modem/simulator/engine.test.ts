/**
 * The simulated modem's interpreter, driven in-process (no pty) so each behaviour is checked
 * exactly and fast. The pty tests in simulator.test.ts cover the same engine over real bytes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeStatusReport, encodeSubmit } from '../../../../firmware/src/modem/pdu/index.ts';
import { ModemEngine } from '../../../../firmware/src/modem/simulator/engine.ts';
import type { Fault } from '../../../../firmware/src/modem/simulator/faults.ts';
import { HandsetInbox } from '../../../../firmware/src/modem/simulator/handset.ts';
import { PROFILES, type SimProfile } from '../../../../firmware/src/modem/simulator/profiles.ts';

const engines: ModemEngine[] = [];
afterEach(() => {
  for (const e of engines.splice(0)) e.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function modem(
  name = 'generic',
  over: Partial<SimProfile> = {},
  opts: { pin?: string; smsDelayMs?: number } = {},
) {
  const base = PROFILES.get(name);
  if (!base) throw new Error(name);
  // Boot timings off unless a test asks for them, so replies are immediate.
  const profile: SimProfile = { ...base, simBusyAfterBootMs: 0, simBusyAfterPinMs: 0, bootUrcs: [], ...over };
  let out = '';
  const handset = new HandsetInbox();
  const events: Array<{ kind: string; detail?: Record<string, unknown> }> = [];
  const unplugs: Array<number | 'forever'> = [];
  const engine = new ModemEngine({
    profile,
    smsDelayMs: opts.smsDelayMs ?? 5,
    ...(opts.pin !== undefined ? { pin: opts.pin } : {}),
    iccid: '8901260000000000019',
    imei: '356938035643809',
    handset,
    write: (s) => (out += s),
    event: (kind, detail) => events.push({ kind, ...(detail ? { detail } : {}) }),
    unplug: (ms) => unplugs.push(ms),
  });
  engines.push(engine);
  engine.boot();
  return {
    engine,
    handset,
    events,
    unplugs,
    /** Writes bytes and returns what the modem wrote synchronously in answer. */
    at(s: string): string {
      out = '';
      engine.input(Buffer.from(s, 'latin1'));
      const o = out;
      out = '';
      return o;
    },
    /** Everything written since the last call. */
    take(): string {
      const o = out;
      out = '';
      return o;
    },
    fault: (f: Fault) => engine.fault(f),
  };
}

/** What the modem writes until `re` matches it (a status report follows a send by ≥ 50 ms). */
async function takeUntil(m: { take(): string }, re: RegExp): Promise<string> {
  let got = '';
  await vi.waitFor(
    () => {
      got += m.take();
      expect(got).toMatch(re);
    },
    { timeout: 3000 },
  );
  return got;
}

describe('basic AT behaviour', () => {
  it('echoes by default, and ATE0 turns echo off', () => {
    const m = modem();
    expect(m.at('AT\r')).toBe('AT\r\r\nOK\r\n');
    expect(m.at('ATE0\r')).toBe('ATE0\r\r\nOK\r\n');
    expect(m.at('AT\r')).toBe('\r\nOK\r\n');
  });

  it('keeps echoing when the firmware ignores ATE0', () => {
    const m = modem('generic', { ignoresAte0: true });
    m.at('ATE0\r');
    expect(m.at('AT\r')).toBe('AT\r\r\nOK\r\n');
  });

  it('accepts lower case, LF after CR, backspace, concatenated commands and A/', () => {
    const m = modem();
    m.at('ATE0\r');
    expect(m.at('at+cgmi;+cgmm\r\n')).toBe('\r\nMFA Box Sim\r\nSIM-LTE4\r\n\r\nOK\r\n');
    expect(m.at('AT+CGMX\bI\r')).toBe('\r\nMFA Box Sim\r\n\r\nOK\r\n');
    expect(m.at('A/')).toBe('\r\nMFA Box Sim\r\n\r\nOK\r\n');
  });

  it('answers numeric result codes after ATV0', () => {
    const m = modem();
    m.at('ATE0V0\r');
    expect(m.at('AT\r')).toBe('0\r');
    expect(m.at('AT+NOPE\r')).toBe('4\r');
  });

  it('stops at the first failing command of a line', () => {
    const m = modem();
    m.at('ATE0\r');
    expect(m.at('AT+CGMI;+NOPE;+CGMM\r')).toBe('\r\nMFA Box Sim\r\n\r\nERROR\r\n');
  });

  it('reports identity, capabilities and the IMEI', () => {
    const m = modem();
    m.at('ATE0\r');
    expect(m.at('AT+CGSN\r')).toContain('356938035643809');
    expect(m.at('AT+GCAP\r')).toContain('+GCAP: +CGSM');
    expect(m.at('ATI\r')).toContain('Revision: SIM-LTE4_1.0.0');
  });

  it('formats CME errors per +CMEE', () => {
    const m = modem('generic', { pinRequired: true });
    m.at('ATE0\r');
    expect(m.at('AT+CCID\r')).toBe('\r\nERROR\r\n');
    m.at('AT+CMEE=1\r');
    expect(m.at('AT+CCID\r')).toBe('\r\n+CME ERROR: 11\r\n');
    m.at('AT+CMEE=2\r');
    expect(m.at('AT+CCID\r')).toBe('\r\n+CME ERROR: SIM PIN required\r\n');
    expect(m.at('AT+CMEE=1,2\r')).toBe('\r\nERROR\r\n');
  });
});

describe('vendor dialects', () => {
  it('huawei: COMMAND NOT SUPPORT, TOO MANY PARAMETERS, ^ICCID and ^CPIN tries', () => {
    const m = modem('huawei-e3372', { urcInReply: undefined, periodicUrcs: undefined });
    m.at('ATE0\r');
    expect(m.at('AT+FOO\r')).toBe('\r\nCOMMAND NOT SUPPORT\r\n');
    expect(m.at('AT+CMGF=0,1\r')).toBe('\r\nTOO MANY PARAMETERS\r\n');
    expect(m.at('AT^ICCID?\r')).toContain('^ICCID: 8901260000000000019');
    expect(m.at('AT^CPIN?\r')).toBe('\r\n^CPIN: READY,,10,3,10,3\r\n\r\nOK\r\n');
  });

  it('huawei: periodic ^RSSI until AT^CURC=0', async () => {
    const m = modem('huawei-e3372', {
      periodicUrcs: { everyMs: 20, lines: ['^RSSI: 18'], disabledBy: '^CURC=0' },
    });
    m.at('ATE0\r');
    await sleep(70);
    expect(m.take()).toContain('\r\n^RSSI: 18\r\n');
    m.at('AT^CURC=0\r');
    await sleep(70);
    expect(m.take()).toBe('');
  });

  it('huawei: puts a URC between reply lines, and e173 even inside a line', () => {
    const a = modem('huawei-e3372', {
      periodicUrcs: undefined,
      urcInReply: { mode: 'between', line: '^RSSI: 19', everyNth: 1 },
    });
    a.at('ATE0\r');
    expect(a.at('AT+CSQ\r')).toBe('\r\n+CSQ: 22,99\r\n\r\n^RSSI: 19\r\n\r\nOK\r\n');
    const b = modem('huawei-e173', {
      periodicUrcs: undefined,
      urcInReply: { mode: 'mid-line', line: '^RSSI: 14', everyNth: 1 },
    });
    b.at('ATE0\r');
    const r = b.at('AT+CSQ\r');
    expect(r).toMatch(/^\r\n\+CS.*\r\n\^RSSI: 14\r\n.*OK\r\n$/s);
    expect(r.replace('\r\n^RSSI: 14\r\n', '')).toBe('\r\n+CSQ: 14,99\r\n\r\nOK\r\n');
  });

  it('a urc-in-reply fault works on any profile, once', () => {
    const m = modem();
    m.at('ATE0\r');
    m.fault({ kind: 'urc-in-reply', line: '+CMTI: "SM",1', mode: 'mid-line' });
    expect(m.at('AT+CGMI\r')).toContain('\r\n+CMTI: "SM",1\r\n');
    expect(m.at('AT+CGMI\r')).toBe('\r\nMFA Box Sim\r\n\r\nOK\r\n');
  });

  it('sim800: boot URCs in order, with the SIM state', async () => {
    const p = PROFILES.get('sim800')!;
    const m = modem('sim800', { bootUrcs: p.bootUrcs.map((u) => ({ ...u, afterMs: u.afterMs / 20 })) });
    await sleep(80);
    const boot = m.take();
    const order = ['RDY', '+CFUN: 1', '+CPIN: READY', 'Call Ready', 'SMS Ready'].map((l) =>
      boot.indexOf(`\r\n${l}\r\n`),
    );
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((x, y) => x - y)).toEqual(order);
    expect(m.at('AT+CCID\r')).toBe('AT+CCID\r\r\n8901260000000000019\r\n\r\nOK\r\n');
  });

  it('sim800 with a PIN: "Call Ready"/"SMS Ready" only after the PIN is accepted', async () => {
    const p = PROFILES.get('sim800')!;
    const m = modem(
      'sim800',
      { bootUrcs: p.bootUrcs.map((u) => ({ ...u, afterMs: u.afterMs / 20 })) },
      { pin: '1111' },
    );
    await sleep(80);
    const boot = m.take();
    expect(boot).toContain('\r\n+CPIN: SIM PIN\r\n');
    expect(boot).not.toContain('Ready');
    m.at('AT+CPIN=1111\r');
    await sleep(80);
    expect(m.take()).toBe('\r\nCall Ready\r\n\r\nSMS Ready\r\n');
  });

  it('wavecom-like: +CPIN? without a final OK', () => {
    const m = modem('wavecom');
    m.at('ATE0\r');
    expect(m.at('AT+CPIN?\r')).toBe('\r\n+CPIN:READY\r\n');
  });

  it('quectel: +QPINC and +QCCID; simcom: +SPIC', () => {
    const q = modem('quectel-ec25', {}, { pin: '0000' });
    q.at('ATE0\r');
    expect(q.at('AT+QPINC?\r')).toContain('+QPINC: "SC",3,10');
    q.at('AT+CPIN="1111"\r');
    expect(q.at('AT+QPINC?\r')).toContain('+QPINC: "SC",2,10');
    const s = modem('sim7600');
    s.at('ATE0\r');
    expect(s.at('AT+SPIC\r')).toContain('+SPIC: 3,10,3,10');
    expect(s.at('AT+QPINC?\r')).toBe('\r\nERROR\r\n');
  });

  it('zte: no registration until AT+ZCDRUN=8 / AT+ZOPRT=5', () => {
    const m = modem('zte-mf');
    m.at('ATE0\r');
    expect(m.at('AT+CREG?\r')).toContain('+CREG: 0,0');
    expect(m.at('AT+ZCDRUN=8\r')).toContain('Close autorun state result(0:FAIL 1:SUCCESS):1');
    m.at('AT+ZOPRT=5\r');
    expect(m.at('AT+CREG?\r')).toContain('+CREG: 0,1');
    expect(modem('generic').at('AT+ZOPRT=5\r')).toContain('ERROR');
  });

  it('cdma-text: text mode only and an IS-707 capability', () => {
    const m = modem('cdma-text');
    m.at('ATE0\r');
    expect(m.at('AT+GCAP\r')).toContain('+CIS707-A');
    expect(m.at('AT+CMGF=?\r')).toContain('+CMGF: (1)');
    expect(m.at('AT+CMGF=0\r')).toBe('\r\nERROR\r\n');
    expect(m.at('AT+CMGF?\r')).toContain('+CMGF: 1');
  });

  it('qualcomm-like: advertises but rejects +CNMI ds=1', () => {
    const m = modem('qualcomm-like');
    m.at('ATE0\r');
    expect(m.at('AT+CNMI=?\r')).toContain('(0-2),(0-3),(0,2),(0-2),(0,1)');
    expect(m.at('AT+CNMI=2,1,0,1,0\r')).toBe('\r\n+CMS ERROR: 303\r\n');
    expect(m.at('AT+CNMI=2,1,0,2,0\r')).toBe('\r\nOK\r\n');
    expect(modem().at('AT+CNMI=2,1,0,1,0\r')).toContain('OK');
  });
});

describe('SIM PIN', () => {
  it('asks for the PIN, counts down wrong tries, then wants the PUK', () => {
    const m = modem('generic', {}, { pin: '4321' });
    m.at('ATE0;+CMEE=1\r');
    expect(m.at('AT+CPIN?\r')).toContain('+CPIN: SIM PIN');
    expect(m.at('AT+CPINR="SIM PIN"\r')).toBe('\r\n+CPINR: SIM PIN,3,3\r\n\r\nOK\r\n');
    expect(m.at('AT+CPIN="0000"\r')).toBe('\r\n+CME ERROR: 16\r\n');
    expect(m.at('AT+CPINR="SIM PIN"\r')).toContain('+CPINR: SIM PIN,2,3');
    m.at('AT+CPIN="0000"\r');
    m.at('AT+CPIN="0000"\r');
    expect(m.at('AT+CPIN?\r')).toContain('+CPIN: SIM PUK');
    expect(m.at('AT+CPIN="4321"\r')).toBe('\r\n+CME ERROR: 16\r\n');
    expect(m.at('AT+CPIN="12345678","1111"\r')).toBe('\r\nOK\r\n');
    expect(m.at('AT+CPIN?\r')).toContain('+CPIN: READY');
  });

  it('remembers spent tries across a reboot, as a SIM card does', () => {
    const m = modem('generic', {}, { pin: '4321' });
    m.at('ATE0\r');
    m.at('AT+CPIN="0000"\r');
    m.engine.reboot();
    m.at('ATE0;+CMEE=1\r');
    // A restart always leaves the SIM busy for a moment; end that at once for the test.
    expect(m.at('AT+CPIN?\r')).toBe('\r\n+CME ERROR: 14\r\n');
    m.fault({ kind: 'sim-busy', ms: 0 });
    expect(m.at('AT+CPINR\r')).toContain('+CPINR: SIM PIN,2,3');
    expect(m.at('AT+CPIN=4321\r')).toBe('\r\nOK\r\n');
  });

  it('is busy (+CME ERROR: 14) for a while after the PIN, then registers', async () => {
    const m = modem('generic', { simBusyAfterPinMs: 60 }, { pin: '1234' });
    m.at('ATE0;+CMEE=1;+CREG=1\r');
    m.at('AT+CPIN="1234"\r');
    expect(m.at('AT+CPIN?\r')).toBe('\r\n+CME ERROR: 14\r\n');
    expect(m.at('AT+CSCA?\r')).toBe('\r\n+CMS ERROR: 314\r\n');
    await sleep(90);
    expect(m.take()).toContain('\r\n+CREG: 1\r\n');
    expect(m.at('AT+CPIN?\r')).toContain('READY');
  });

  it('logs the PIN redacted', () => {
    const m = modem('generic', {}, { pin: '4321' });
    m.at('AT+CPIN="4321"\r');
    const lines = m.events.filter((e) => e.kind === 'cmd').map((e) => String(e.detail?.line));
    expect(lines.join('\n')).not.toContain('4321');
    expect(lines).toContain('AT+CPIN=<redacted>');
  });
});

describe('registration', () => {
  it('searches until registerAfterMs, with +CREG/+CEREG URCs and location when n=2', async () => {
    const m = modem('slow-registration', { registerAfterMs: 50 });
    m.at('ATE0;+CREG=2;+CEREG=1\r');
    expect(m.at('AT+CREG?\r')).toContain('+CREG: 2,2');
    expect(m.at('AT+COPS?\r')).toContain('+COPS: 0\r\n');
    await sleep(80);
    const urcs = m.take();
    expect(urcs).toContain('\r\n+CREG: 1,"00A1","0001ABCD",7\r\n');
    expect(urcs).toContain('\r\n+CEREG: 1\r\n');
    expect(m.at('AT+COPS?\r')).toContain('+COPS: 0,0,"MFA Sim",7');
  });

  it('reports roaming "SMS only"', () => {
    const m = modem('roaming-sms-only');
    m.at('ATE0\r');
    expect(m.at('AT+CEREG?;+CREG?\r')).toContain('+CEREG: 0,7\r\n+CREG: 0,5');
  });

  it('deregisters on AT+CFUN=0 and comes back on AT+CFUN=1', () => {
    const m = modem();
    m.at('ATE0\r');
    m.at('AT+CFUN=0\r');
    expect(m.at('AT+CFUN?;+CREG?\r')).toContain('+CFUN: 0\r\n+CREG: 0,0');
    m.at('AT+CFUN=1\r');
    expect(m.at('AT+CREG?\r')).toContain('+CREG: 0,1');
  });
});

function pduSend(m: ReturnType<typeof modem>, text: string, extra: Record<string, unknown> = {}): string[] {
  const parts = encodeSubmit({ to: '+15550000001', text, ...extra });
  return parts.map((p) => {
    const prompt = m.at(`AT+CMGS=${p.tpduLength}\r`);
    m.at(`${p.hex}\x1a`);
    return prompt;
  });
}

describe('sending in PDU mode', () => {
  it('prompts with "> " and no line end, then answers +CMGS after the network time', async () => {
    const m = modem('generic', {}, { smsDelayMs: 30 });
    m.at('ATE0\r');
    const [p] = encodeSubmit({ to: '+15550000001', text: 'Your code is 123456' });
    expect(m.at(`AT+CMGS=${p!.tpduLength}\r`)).toBe('\r\n> ');
    expect(m.at(`${p!.hex}\x1a`)).toBe('');
    await sleep(10);
    expect(m.take()).toBe('');
    await sleep(40);
    expect(m.take()).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    expect(m.handset.messages).toMatchObject([
      { to: '+15550000001', text: 'Your code is 123456', parts: 1, messageRefs: [0] },
    ]);
  });

  it('echoes the PDU when echo is on, as real modems do', async () => {
    const m = modem();
    const [p] = encodeSubmit({ to: '+15550000001', text: 'x' });
    m.at(`AT+CMGS=${p!.tpduLength}\r`);
    expect(m.at(p!.hex)).toBe(p!.hex);
    m.at('\x1a');
    await sleep(20);
    expect(m.take()).toContain('+CMGS: 0');
  });

  it('reassembles a concatenated message and numbers TP-MR per part', async () => {
    const m = modem();
    m.at('ATE0\r');
    const text = `${'a'.repeat(150)}€€€ and the rest of a long message`;
    const sms = m.handset.next();
    const prompts = [];
    for (const p of encodeSubmit({ to: '+15550000001', text })) {
      prompts.push(m.at(`AT+CMGS=${p.tpduLength}\r`));
      m.at(`${p.hex}\x1a`);
      await sleep(15);
    }
    expect(prompts).toEqual(['\r\n> ', '\r\n> ']);
    expect(await sms).toMatchObject({ text, parts: 2, messageRefs: [0, 1], encoding: 'gsm7' });
  });

  it('refuses a PDU whose TPDU length disagrees with AT+CMGS=<n> (+CMS ERROR: 304)', async () => {
    const m = modem();
    m.at('ATE0\r');
    const [p] = encodeSubmit({ to: '+15550000001', text: 'x' });
    m.at(`AT+CMGS=${p!.tpduLength + 1}\r`);
    m.at(`${p!.hex}\x1a`);
    await sleep(40);
    expect(m.take()).toBe('\r\n+CMS ERROR: 304\r\n');
    m.at(`AT+CMGS=${p!.tpduLength}\r`);
    m.at('ZZ\x1a');
    await sleep(40);
    expect(m.take()).toBe('\r\n+CMS ERROR: 304\r\n');
    expect(m.handset.parts).toHaveLength(0);
  });

  it('cancels on ESC without sending', async () => {
    const m = modem();
    m.at('ATE0\r');
    const [p] = encodeSubmit({ to: '+15550000001', text: 'x' });
    m.at(`AT+CMGS=${p!.tpduLength}\r`);
    expect(m.at(`${p!.hex}\x1b`)).toBe('\r\nOK\r\n');
    await sleep(20);
    expect(m.handset.parts).toHaveLength(0);
    expect(m.at('AT\r')).toBe('\r\nOK\r\n');
  });

  it('queues a command typed while a send is in flight and answers it afterwards', async () => {
    const m = modem('generic', {}, { smsDelayMs: 20 });
    m.at('ATE0\r');
    pduSend(m, 'x');
    expect(m.at('AT+CSQ\r')).toBe('');
    await sleep(40);
    expect(m.take()).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n\r\n+CSQ: 22,99\r\n\r\nOK\r\n');
  });

  it('sends a +CDS status report when asked and CNMI ds=1, decodable by decodeStatusReport', async () => {
    const m = modem();
    m.at('ATE0;+CNMI=2,1,0,1,0\r');
    pduSend(m, 'report me', { statusReport: true });
    const out = await takeUntil(m, /\+CDS: /);
    const match = /\r\n\+CDS: (\d+)\r\n([0-9A-F]+)\r\n/.exec(out);
    expect(match).not.toBeNull();
    const r = decodeStatusReport(match![2]!);
    expect(r).toMatchObject({ messageReference: 0, recipient: '+15550000001', delivered: true });
    expect(r.tpduLength).toBe(Number(match![1]));
  });

  it('with ds=2 stores the report (+CDSI), serves it with +CMGR and forgets it after +CMGD', async () => {
    const m = modem('qualcomm-like');
    m.at('ATE0;+CNMI=2,1,0,2,0\r');
    m.fault({ kind: 'status-report', status: 0x46 });
    pduSend(m, 'report me', { statusReport: true });
    const idx = /\+CDSI: "SR",(\d+)/.exec(await takeUntil(m, /\+CDSI: /))?.[1];
    expect(idx).toBeDefined();
    const read = m.at(`AT+CMGR=${idx}\r`);
    const [, len, pdu] = /\+CMGR: 0,,(\d+)\r\n([0-9A-F]+)\r\n/.exec(read) ?? [];
    const r = decodeStatusReport(pdu ?? '', { hasSmsc: true });
    expect(r).toMatchObject({
      messageReference: 0,
      recipient: '+15550000001',
      status: 0x46,
      delivered: false,
    });
    expect(r.tpduLength).toBe(Number(len));
    m.at(`AT+CMGD=${idx}\r`);
    expect(m.at(`AT+CMGR=${idx}\r`)).toBe('\r\n+CMS ERROR: 321\r\n');
  });

  it('text mode +CDS carries the TP-ST', async () => {
    const m = modem();
    m.at('ATE0;+CMGF=1;+CSMP=49,167,0,0;+CNMI=2,1,0,1,0\r');
    m.at('AT+CMGS="+15550000001"\r');
    m.at('x\x1a');
    // The report follows the send by at least 50 ms: polled, so a loaded machine does not fail it.
    let got = '';
    await vi.waitFor(
      () => {
        got += m.take();
        expect(got).toMatch(/\r\n\+CDS: 6,0,"\+15550000001",145,"[^"]+","[^"]+",0\r\n/);
      },
      { timeout: 3000 },
    );
  });

  it('sim7600 on LTE without SMS service refuses with +CMS ERROR: 500', async () => {
    const m = modem('sim7600-lte-no-sms');
    m.at('ATE0\r');
    expect(m.at('AT+CEREG?;+CREG?\r')).toContain('+CEREG: 0,1\r\n+CREG: 0,0');
    pduSend(m, 'x');
    await sleep(30);
    expect(m.take()).toBe('\r\n+CMS ERROR: 500\r\n');
  });

  it('huawei e173 refuses AT+CMMS=2', () => {
    const m = modem('huawei-e173', { periodicUrcs: undefined, urcInReply: undefined });
    m.at('ATE0\r');
    expect(m.at('AT+CMMS=2\r')).toBe('\r\n+CMS ERROR: 500\r\n');
  });
});

describe('sending in text mode', () => {
  it('takes the number, gives a new prompt per line, and records IRA text', async () => {
    const m = modem('cdma-text');
    m.at('ATE0\r');
    expect(m.at('AT+CMGS="+15550000001"\r')).toBe('\r\n> ');
    expect(m.at('line one\r')).toBe('\r\n> ');
    m.at('line two\x1a');
    await sleep(20);
    expect(m.take()).toBe('\r\n+CMGS: 0\r\n\r\nOK\r\n');
    expect(m.handset.messages[0]).toMatchObject({
      to: '+15550000001',
      text: 'line one\nline two',
      encoding: 'text-mode',
      validitySeconds: 86_400, // +CSMP default VP 167
    });
  });

  it('decodes a UCS2 body and a hex number when +CSCS="UCS2", and hex-encodes +CSCA', async () => {
    const m = modem();
    m.at('ATE0;+CMGF=1;+CSCS="UCS2";+CSMP=17,167,0,8\r');
    expect(m.at('AT+CSCA?\r')).toContain('+CSCA: "002B00310035003500350030003000300039003900390039",145');
    m.at('AT+CMGS="002B00310035003500350030003000300030003000300031"\r');
    m.at('004B006F0064003A0020017C\x1a');
    await sleep(20);
    expect(m.handset.messages[0]).toMatchObject({ to: '+15550000001', text: 'Kod: ż' });
  });
});

describe('faults', () => {
  it('cms-error once fails one send; always fails every send', async () => {
    const m = modem();
    m.at('ATE0\r');
    m.fault({ kind: 'cms-error', code: 512, times: 'once' });
    pduSend(m, 'a');
    await sleep(20);
    expect(m.take()).toBe('\r\n+CMS ERROR: 512\r\n');
    pduSend(m, 'b');
    await sleep(20);
    expect(m.take()).toContain('+CMGS: 0');
    m.fault({ kind: 'cms-error', code: 42, times: 'always' });
    for (const t of ['c', 'd']) {
      pduSend(m, t);
      await sleep(20);
      expect(m.take()).toBe('\r\n+CMS ERROR: 42\r\n');
    }
    expect(m.handset.messages.map((s) => s.text)).toEqual(['b']);
  });

  it('hang during a send loses the message; after clear the modem answers again', async () => {
    const m = modem('generic', {}, { smsDelayMs: 10 });
    m.at('ATE0\r');
    pduSend(m, 'x');
    m.fault({ kind: 'hang' });
    await sleep(30);
    expect(m.take()).toBe('');
    m.fault({ kind: 'clear' });
    expect(m.at('AT\r')).toBe('\r\nOK\r\n');
    expect(m.handset.parts).toHaveLength(0);
  });

  it('hang: silence until cleared', () => {
    const m = modem();
    m.at('ATE0\r');
    m.fault({ kind: 'hang' });
    expect(m.at('AT\r')).toBe('');
    m.fault({ kind: 'clear' });
    expect(m.at('AT\r')).toBe('\r\nOK\r\n');
  });

  it('no-network: searching, no signal, +CMS ERROR: 331', async () => {
    const m = modem();
    m.at('ATE0\r');
    m.fault({ kind: 'no-network' });
    expect(m.at('AT+CREG?;+CSQ\r')).toBe('\r\n+CREG: 0,2\r\n+CSQ: 99,99\r\n\r\nOK\r\n');
    pduSend(m, 'x');
    await sleep(130);
    expect(m.take()).toBe('\r\n+CMS ERROR: 331\r\n');
  });

  it('registration: forces any 27.007 stat, e.g. 3 (denied) refuses SMS, 8 (emergency only)', async () => {
    const m = modem();
    m.at('ATE0;+CREG=1;+CEREG=1\r');
    m.fault({ kind: 'registration', creg: 3, cereg: 8, cgreg: 0 });
    expect(m.take()).toBe('\r\n+CREG: 3\r\n\r\n+CEREG: 8\r\n'); // +CGREG URCs are off (n=0)
    expect(m.at('AT+CREG?;+CEREG?\r')).toContain('+CREG: 1,3\r\n+CEREG: 1,8');
    pduSend(m, 'x');
    await sleep(130);
    expect(m.take()).toBe('\r\n+CMS ERROR: 331\r\n');
    m.fault({ kind: 'clear' });
    expect(m.take()).toBe('\r\n+CREG: 1\r\n\r\n+CEREG: 1\r\n');
  });

  it('dead-sim: +CME ERROR: 13 and no registration', () => {
    const m = modem();
    m.at('ATE0;+CMEE=1\r');
    m.fault({ kind: 'dead-sim' });
    expect(m.at('AT+CPIN?\r')).toBe('\r\n+CME ERROR: 13\r\n');
    expect(m.at('AT+CREG?\r')).toContain('+CREG: 0,0');
    expect(m.at('AT+CMGS=20\r')).toBe('\r\n+CMS ERROR: 313\r\n');
  });

  it('sim-busy: +CME ERROR: 14 for the given time', async () => {
    const m = modem();
    m.at('ATE0;+CMEE=1\r');
    m.fault({ kind: 'sim-busy', ms: 40 });
    expect(m.at('AT+CPIN?\r')).toBe('\r\n+CME ERROR: 14\r\n');
    await sleep(50);
    expect(m.at('AT+CPIN?\r')).toContain('READY');
  });

  it('reboot-mid-send: no +CMGS, boot URCs, echo back on, nothing delivered', async () => {
    const m = modem('sim800', {}, { smsDelayMs: 20 });
    m.at('ATE0\r');
    m.fault({ kind: 'reboot-mid-send' });
    pduSend(m, 'x');
    await sleep(40);
    expect(m.take()).not.toContain('+CMGS');
    expect(m.events.map((e) => e.kind)).toContain('reboot');
    expect(m.at('AT\r')).toBe('AT\r\r\nOK\r\n');
    expect(m.handset.parts).toHaveLength(0);
  });

  it('unplug-mid-send asks for an unplug halfway, optionally after delivery', async () => {
    const m = modem('generic', {}, { smsDelayMs: 20 });
    m.at('ATE0\r');
    m.fault({ kind: 'unplug-mid-send', ms: 100, delivered: true });
    pduSend(m, 'x');
    await sleep(30);
    expect(m.unplugs).toEqual([100]);
    expect(m.handset.messages).toHaveLength(1);
  });

  it('AT+CFUN=1,1 reboots; the modeswitch E173 never brings its AT port back', async () => {
    const a = modem();
    a.at('ATE0\r');
    expect(a.at('AT+CFUN=1,1\r')).toBe('\r\nOK\r\n');
    await sleep(70);
    expect(a.events.map((e) => e.kind)).toContain('reboot');
    const b = modem('huawei-e173-modeswitch', { periodicUrcs: undefined, urcInReply: undefined });
    b.at('AT+CFUN=1,1\r');
    await sleep(70);
    expect(b.unplugs).toEqual(['forever']);
  });
});

describe('robustness', () => {
  it('survives random bytes without an internal error and answers AT afterwards', async () => {
    let a = 12345;
    const rand = (): number => {
      a = (Math.imul(a, 1103515245) + 12345) >>> 0;
      return a >>> 16;
    };
    // Bias towards bytes that matter to the parser: "AT", "+", "=", ";", quotes, CR, ESC, Ctrl-Z.
    const alphabet = 'ATat+=;?,"0123456789CMGSFEVZ^&/\r\r\x1b\x1a\x08 ';
    for (let round = 0; round < 20; round++) {
      const m = modem('huawei-e3372', {}, { smsDelayMs: 1 });
      let junk = '';
      for (let i = 0; i < 400; i++)
        junk +=
          rand() % 4 === 0 ? String.fromCharCode(rand() & 0xff) : alphabet.charAt(rand() % alphabet.length);
      m.at(junk);
      await sleep(5);
      m.at('\x1b\r');
      await sleep(5);
      m.fault({ kind: 'clear' });
      m.at('ATZ\r');
      m.at('ATE0\r');
      expect(m.at('AT\r'), JSON.stringify(junk)).toMatch(/\r\nOK\r\n$/);
      expect(m.events.filter((e) => e.kind === 'error')).toEqual([]);
    }
  });
});
