import { describe, expect, it } from 'vitest';
import {
  barsFor,
  identityValue,
  isRegistered,
  isRoaming,
  parseCmgs,
  parseCops,
  parseCpin,
  parseCsca,
  parseCsq,
  parseIccid,
  parseReg,
  parseTextCds,
  parseTriesLeft,
} from '../../../../firmware/src/modem/at/replies.ts';

describe('parseCpin', () => {
  it.each([
    ['+CPIN: READY', 'ready'],
    ['+CPIN:READY', 'ready'],
    ['+CPIN: "READY"', 'ready'],
    ['+CPIN: SIM PIN', 'pin'],
    ['+CPIN: SIM PUK', 'puk'],
    ['+CPIN: NOT INSERTED', 'absent'],
    ['+CPIN: SIM REMOVED', 'absent'],
  ])('%s → %s', (line, kind) => {
    expect(parseCpin([line])?.kind).toBe(kind);
  });
  it('other locks and unknown words', () => {
    expect(parseCpin(['+CPIN: PH-SIM PIN'])).toEqual({ kind: 'other-lock', what: 'PH-SIM PIN' });
    expect(parseCpin(['+CPIN: SIM PIN2'])).toEqual({ kind: 'other-lock', what: 'SIM PIN2' });
    expect(parseCpin(['+CPIN: NOT READY'])).toEqual({ kind: 'unknown', text: 'NOT READY' });
    expect(parseCpin(['OK?'])).toBeUndefined();
  });
});

describe('registration', () => {
  it('parses solicited replies with and without location and AcT', () => {
    expect(parseReg(['+CREG: 0,1'], '+CREG')).toEqual({ stat: 'home' });
    expect(parseReg(['+CEREG: 2,5,"1A2B","01C2D3E4",7'], '+CEREG')).toEqual({ stat: 'roaming', act: 7 });
    expect(parseReg(['+CGREG: 0,2'], '+CGREG')).toEqual({ stat: 'searching' });
    expect(parseReg(['+CEREG: 0,7'], '+CEREG')).toEqual({ stat: 'sms-only-roaming' });
    expect(parseReg(['+CREG: 0,42'], '+CREG')).toBeUndefined();
    expect(parseReg(['+CSQ: 1,1'], '+CREG')).toBeUndefined();
  });
  it('classifies registered and roaming states', () => {
    expect(
      ['home', 'roaming', 'sms-only-home', 'sms-only-roaming'].every((s) => isRegistered(s as never)),
    ).toBe(true);
    expect(isRegistered('searching')).toBe(false);
    expect(isRegistered('denied')).toBe(false);
    expect(isRegistered(undefined)).toBe(false);
    expect(isRoaming('sms-only-roaming')).toBe(true);
    expect(isRoaming('home')).toBe(false);
  });
});

describe('signal', () => {
  it('+CSQ → dBm and bars', () => {
    expect(parseCsq(['+CSQ: 31,99'])).toEqual({ dbm: -51, bars: 5 });
    expect(parseCsq(['+CSQ: 15,99'])).toEqual({ dbm: -83, bars: 4 });
    expect(parseCsq(['+CSQ: 2,0'])).toEqual({ dbm: -109, bars: 1 });
    expect(parseCsq(['+CSQ: 0,0'])).toEqual({ dbm: -113, bars: 0 });
    expect(parseCsq(['+CSQ: 99,99'])).toEqual({ bars: 0 });
    expect(parseCsq(['nothing'])).toBeUndefined();
  });
  it('bars thresholds', () => {
    expect([-50, -80, -90, -100, -105, -112].map(barsFor)).toEqual([5, 4, 3, 2, 1, 0]);
  });
});

describe('other replies', () => {
  it('operator, message reference, SMSC', () => {
    expect(parseCops(['+COPS: 0,0,"Telekom.de",7'])).toBe('Telekom.de');
    expect(parseCops(['+COPS: 0'])).toBeUndefined();
    expect(parseCmgs(['+CMGS: 17,"24/01/01,00:00:00+00"'])).toBe(17);
    expect(parseCmgs([])).toBeUndefined();
    expect(parseCsca(['+CSCA: "+491710760000",145'])).toBe('+491710760000');
    expect(parseCsca(['+CSCA: "",129'])).toBeUndefined();
  });
  it('ICCID in every vendor form, nibble-swapped ones unswapped', () => {
    const want = '89441000301234567890';
    expect(parseIccid([`+CCID: ${want}`])).toBe(want);
    expect(parseIccid([want])).toBe(want);
    expect(parseIccid([`+ICCID: ${want}`])).toBe(want);
    expect(parseIccid([`^ICCID: "98440100032143658709"`])).toBe(want);
    expect(parseIccid(['+CRSM: 144,0,"98440100032143658709"'])).toBe(want);
    expect(parseIccid(['8901260000000000019F'])).toBe('8901260000000000019');
    expect(parseIccid(['+CSQ: 1,1'])).toBeUndefined();
  });
  it('identity values and tries left', () => {
    expect(identityValue(['+CGMI: "Quectel"'])).toBe('Quectel');
    expect(identityValue(['SIMCOM_Ltd'])).toBe('SIMCOM_Ltd');
    expect(identityValue([])).toBeUndefined();
    expect(parseTriesLeft(['+QPINC: "SC",2,10', '+QPINC: "P2",3,10'], '^\\+QPINC: ?"SC",(\\d+)')).toBe(2);
    expect(parseTriesLeft(['^CPIN: SIM PIN,3,10,3,10,3'], '^\\^CPIN: ?[^,]*,\\d*,\\d+,(\\d+)')).toBe(3);
    expect(parseTriesLeft(['nothing'], '^\\+SPIC: ?(\\d+)')).toBeUndefined();
  });
});

describe('parseTextCds', () => {
  it('reads the reference and outcome of a text-mode status report', () => {
    const l = (st: number) =>
      `+CDS: 6,12,"+15550001",145,"24/01/01,00:00:00+00","24/01/01,00:00:05+00",${st}`;
    expect(parseTextCds(l(0))).toEqual({ messageReference: 12, status: 0, outcome: 'delivered' });
    expect(parseTextCds(l(32))).toMatchObject({ outcome: 'pending' });
    expect(parseTextCds(l(70))).toMatchObject({ outcome: 'failed' });
    expect(parseTextCds('07914477790706520006D6')).toBeUndefined();
  });
});
