/**
 * The simulated modem's interpreter, in-process (see engine-harness.ts): what each vendor profile does
 * differently.
 */
import { describe, expect, it } from 'vitest';
import { PROFILES } from '../../../../firmware/src/modem/simulator/profiles.ts';
import { simModems, sleep } from './engine-harness.ts';

const modem = simModems();

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
