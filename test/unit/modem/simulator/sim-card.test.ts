import { describe, expect, it } from 'vitest';
import { formatFinal } from '../../../../firmware/src/modem/simulator/result-codes.ts';
import { SimCard } from '../../../../firmware/src/modem/simulator/sim-card.ts';

describe('SimCard', () => {
  it('blocks after 3 wrong PINs and 10 wrong PUKs, and keeps counting across power cycles', () => {
    const t = 0;
    const card = new SimCard('1234', '87654321', () => t);
    expect(card.error('cme')).toEqual({ kind: 'cme', code: 11 });
    expect(card.enter('0000', undefined)).toBe('wrong');
    card.powerOn(0);
    expect(card.pinTriesLeft).toBe(2);
    card.enter('0000', undefined);
    card.enter('0000', undefined);
    expect(card.lock).toBe('puk');
    expect(card.error('cms')).toEqual({ kind: 'cms', code: 316 });
    for (let i = 0; i < 9; i++) expect(card.enter('11111111', '1234')).toBe('wrong');
    expect(card.lock).toBe('puk');
    card.enter('11111111', '1234');
    expect(card.lock).toBe('blocked');
    expect(card.enter('87654321', '1234')).toBe('blocked');
  });

  it('unlocks with the PUK and a new PIN, which the next power-on asks for', () => {
    let t = 0;
    const card = new SimCard('1234', '87654321', () => t);
    for (let i = 0; i < 3; i++) card.enter('9999', undefined);
    expect(card.enter('87654321', '2468')).toBe('unlocked');
    card.powerOn(100);
    expect(card.busy).toBe(true);
    t = 100;
    expect(card.busy).toBe(false);
    expect(card.word()).toBe('SIM PIN');
    expect(card.enter('2468', undefined)).toBe('unlocked');
    expect(card.usable).toBe(true);
    expect(card.enter('2468', undefined)).toBe('not-locked');
  });
});

describe('final result codes', () => {
  it('follows ATV and +CMEE', () => {
    expect(formatFinal({ kind: 'ok' }, true, 0)).toBe('\r\nOK\r\n');
    expect(formatFinal({ kind: 'ok' }, false, 0)).toBe('0\r');
    expect(formatFinal({ kind: 'cme', code: 14 }, true, 0)).toBe('\r\nERROR\r\n');
    expect(formatFinal({ kind: 'cme', code: 14 }, true, 1)).toBe('\r\n+CME ERROR: 14\r\n');
    expect(formatFinal({ kind: 'cme', code: 14 }, true, 2)).toBe('\r\n+CME ERROR: SIM busy\r\n');
    expect(formatFinal({ kind: 'cms', code: 500 }, true, 0)).toBe('\r\n+CMS ERROR: 500\r\n');
    expect(formatFinal({ kind: 'cms', code: 500 }, true, 2)).toBe('\r\n+CMS ERROR: unknown error\r\n');
    expect(formatFinal({ kind: 'text', text: 'COMMAND NOT SUPPORT' }, true, 1)).toBe(
      '\r\nCOMMAND NOT SUPPORT\r\n',
    );
    expect(formatFinal({ kind: 'none' }, true, 1)).toBe('');
  });
});
