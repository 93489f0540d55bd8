import { describe, expect, it } from 'vitest';
import { parseTokenCsv } from '../../../firmware/src/auth/token-csv.ts';

describe('hardware-token CSV', () => {
  it('reads hex and base32 seeds with their parameters, any column order, and skips comments', () => {
    const r = parseTokenCsv(
      [
        '# from the vendor',
        'serial,user,seed_hex,type,digits,counter',
        'HW-1,alice,3132333435363738393031323334353637383930,hotp,6,7',
        '',
        'HW-2,bob,3132333435363738393031323334353637383930,totp,8,',
      ].join('\r\n'),
    );
    expect(r.errors).toEqual([]);
    expect(r.rows).toHaveLength(2);
    expect(r.rows[0]).toMatchObject({
      user: 'alice',
      serial: 'HW-1',
      counter: 7,
      params: { type: 'hotp', digits: 6, algorithm: 'SHA1', period: 30 },
    });
    expect(r.rows[0]!.seed.toString()).toBe('12345678901234567890');
    expect(r.rows[1]).toMatchObject({ user: 'bob', params: { type: 'totp', digits: 8 } });
    const b = parseTokenCsv('user,seed_base32,algorithm\ncarol,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,sha-256\n');
    expect(b.rows[0]!.seed.toString()).toBe('12345678901234567890');
    expect(b.rows[0]!.params.algorithm).toBe('SHA256');
  });

  it('refuses bad lines by number and keeps the good ones', () => {
    const r = parseTokenCsv(
      [
        'user,seed_hex,type,digits',
        'a,zz,totp,6',
        'b,31323334,totp,6',
        'c,3132333435363738393031323334353637383930,sms,6',
        'd,3132333435363738393031323334353637383930,totp,5',
        ',3132333435363738393031323334353637383930,totp,6',
        'e,3132333435363738393031323334353637383930,totp,6',
      ].join('\n'),
    );
    expect(r.rows.map((x) => x.user)).toEqual(['e']);
    expect(r.errors).toEqual([
      'line 2: seed_hex is not hex',
      'line 3: the seed is shorter than 80 bits',
      'line 4: type "sms" is not totp or hotp',
      'line 5: digits must be 6, 7 or 8',
      'line 6: no user',
    ]);
    expect(parseTokenCsv('').errors).toEqual(['the file is empty']);
    expect(parseTokenCsv('name,secret\nx,y').errors[0]).toMatch(/header needs/);
  });
});
