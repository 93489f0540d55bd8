/**
 * The simulated modem's interpreter, in-process (see engine-harness.ts): injected faults, and random bytes.
 */
import { describe, expect, it } from 'vitest';
import { pduSend, simModems, sleep } from './engine-harness.ts';

const modem = simModems();

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
