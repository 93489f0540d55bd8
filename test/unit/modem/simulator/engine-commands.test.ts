/**
 * The simulated modem's interpreter, in-process (see engine-harness.ts): plain AT commands, the SIM PIN and
 * registration.
 */
import { describe, expect, it } from 'vitest';
import { simModems, sleep } from './engine-harness.ts';

const modem = simModems();

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
