import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../firmware/src/errors.ts';
import { loadProfiles, profileByName, selectProfile } from '../../../firmware/src/modem/profiles.ts';

describe('modem profiles (hardware/modems/*.json)', () => {
  it('all load and validate, including the required vendors', () => {
    const names = loadProfiles().map((p) => p.name);
    for (const n of [
      'generic-3gpp',
      'huawei-e3372',
      'huawei-e173',
      'simcom-sim800',
      'simcom-sim7600',
      'quectel-ec25',
      'zte-mf',
      'cdma-text',
    ])
      expect(names).toContain(n);
    for (const p of loadProfiles())
      for (const t of p.triesLeft ? [p.triesLeft.pattern] : []) expect(() => new RegExp(t)).not.toThrow();
  });

  it.each([
    [{ manufacturer: 'Quectel', model: 'EC25' }, 'quectel-ec25'],
    [{ ati: 'Manufacturer: huawei Model: E3372 Revision: 22.200' }, 'huawei-e3372'],
    [{ manufacturer: 'huawei', model: 'E173' }, 'huawei-e173'],
    [{ manufacturer: 'SIMCOM_Ltd', model: 'SIMCOM_SIM800' }, 'simcom-sim800'],
    [{ manufacturer: 'SIMCOM INCORPORATED', model: 'SIMCOM_SIM7600G-H' }, 'simcom-sim7600'],
    [{ manufacturer: 'ZTE CORPORATION', model: 'MF190' }, 'zte-mf'],
    [{ manufacturer: 'Acme', model: 'X', gcap: '+GCAP: +CIS707-A, +MS' }, 'cdma-text'],
    [{ manufacturer: 'WAVECOM MODEM', model: 'MULTIBAND' }, 'generic-3gpp'],
    [{}, 'generic-3gpp'],
  ])('%j → %s', (id, name) => {
    expect(selectProfile(id).name).toBe(name);
  });

  it('CDMA is text mode and marked unverified; recommended ones are LTE', () => {
    const cdma = profileByName('cdma-text');
    expect(cdma.quirks.textModeOnly).toBe(true);
    expect(cdma.verified).toBe('unverified');
    for (const p of loadProfiles().filter((x) => x.recommended)) expect(p.generation).toMatch(/^lte/);
  });

  it('an unknown profile name names the config field', () => {
    expect(() => profileByName('nope')).toThrow(
      expect.objectContaining({ code: ErrorCode.ConfigInvalid, field: 'modems.profile' }),
    );
  });
});
