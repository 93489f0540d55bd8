import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../firmware/src/errors.ts';
import { factsOf, healthOf, notReadyError, type ModemView } from '../../../firmware/src/modem/report.ts';

const view = (over: Partial<ModemView> = {}): ModemView => ({
  name: 'gsm0',
  state: 'registered',
  detail: undefined,
  identity: { manufacturer: 'SIMCOM', imei: '490154203237518' },
  signal: { dbm: -73, bars: 4 },
  operator: 'Telia',
  roaming: false,
  lteOnly: false,
  smsc: '+46705008999',
  textMode: false,
  profile: 'simcom',
  sentCount: 3,
  failedCount: 1,
  lastSentAt: 1_765_000_000_000,
  smsImpossible: false,
  ...over,
});

describe('modem report (health, facts, not-ready error from one snapshot)', () => {
  it('shows signal, operator and roaming only while registered, sending or SMS-refused', () => {
    expect(healthOf(view())).toEqual({
      name: 'gsm0',
      state: 'registered',
      sentCount: 3,
      failedCount: 1,
      lastSentAt: 1_765_000_000_000,
      identity: { manufacturer: 'SIMCOM', imei: '490154203237518' },
      bars: 4,
      dbm: -73,
      operator: 'Telia',
      roaming: false,
    });
    const searching = healthOf(view({ state: 'searching', detail: 'looking for a network' }));
    expect(searching).toMatchObject({ state: 'searching', detail: 'looking for a network' });
    for (const k of ['bars', 'dbm', 'operator', 'roaming']) expect(searching).not.toHaveProperty(k);
    expect(healthOf(view({ state: 'sms-refused' }))).toMatchObject({ bars: 4, operator: 'Telia' });
  });

  it('copies the identity, so a later change inside the modem cannot alter a published snapshot', () => {
    const v = view();
    const h = healthOf(v);
    v.identity.iccid = '8946';
    expect(h.identity).not.toHaveProperty('iccid');
  });

  it('gives the probe facts with defaults for what init has not found', () => {
    expect(
      factsOf(view({ profile: undefined, roaming: undefined, operator: undefined, smsc: undefined })),
    ).toEqual({
      state: 'registered',
      identity: { manufacturer: 'SIMCOM', imei: '490154203237518' },
      profile: 'unknown',
      roaming: false,
      lteOnly: false,
      dbm: -73,
      bars: 4,
      textMode: false,
    });
  });

  it('names the most specific reason a modem cannot send', () => {
    const cases: [Partial<ModemView>, ErrorCode][] = [
      [{ state: 'no-sim' }, ErrorCode.ModemSimMissing],
      [{ state: 'pin-needed' }, ErrorCode.ModemSimPinRejected],
      [{ state: 'pin-rejected' }, ErrorCode.ModemSimPinRejected],
      [{ state: 'searching' }, ErrorCode.ModemNoNetwork],
      [{ state: 'sms-refused' }, ErrorCode.ModemNoNetwork],
      [{ state: 'absent' }, ErrorCode.ModemPortUnavailable],
      [{ state: 'failed', smsImpossible: true }, ErrorCode.ModemCommandFailed],
      [{ state: 'initialising', detail: 'SIM busy, retrying' }, ErrorCode.ModemBusy],
      [{ state: 'initialising' }, ErrorCode.ModemNotReady],
    ];
    for (const [over, code] of cases) expect(notReadyError(view(over)).code, JSON.stringify(over)).toBe(code);
    expect(
      notReadyError(view({ state: 'searching', detail: 'registration denied by the network' })).message,
    ).toBe('gsm0 not ready: searching (registration denied by the network)');
  });
});
