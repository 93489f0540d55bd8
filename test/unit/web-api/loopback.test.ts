import { describe, expect, it } from 'vitest';
import {
  isLoopbackAddress,
  isLoopbackHost,
  loopbackTarget,
  needsLoopbackListener,
} from '../../../firmware/src/web-api/loopback.ts';

describe('isLoopbackAddress', () => {
  it.each(['127.0.0.1', '127.1.2.3', '127.255.255.255', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1'])(
    'accepts %s',
    (a) => expect(isLoopbackAddress(a)).toBe(true),
  );
  it.each([
    undefined,
    '',
    '10.0.0.5',
    '128.0.0.1',
    '::ffff:10.0.0.5',
    '::2',
    '::',
    '0.0.0.0',
    'localhost',
    '127.0.0.1.evil',
    'fe80::1',
  ])('refuses %s', (a) => expect(isLoopbackAddress(a)).toBe(false));
});

describe('isLoopbackHost (DNS rebinding guard)', () => {
  it.each([
    undefined,
    'localhost',
    'localhost:8080',
    '127.0.0.1:8080',
    '127.0.0.1',
    '[::1]:8080',
    '[::1]',
    'LOCALHOST',
  ])('accepts %s', (h) => expect(isLoopbackHost(h)).toBe(true));
  it.each([
    'evil.example:8080',
    'evil.example',
    '10.0.0.5:8080',
    '[::2]:80',
    '[::1]x',
    'localhost.evil.example',
    '127.0.0.1:80:80',
  ])('refuses %s', (h) => expect(isLoopbackHost(h)).toBe(false));
});

describe('where the CLI finds the running service', () => {
  it('uses loopback for wildcard, loopback and LAN web addresses', () => {
    expect(loopbackTarget('0.0.0.0')).toBe('127.0.0.1');
    expect(loopbackTarget('::')).toBe('::1');
    expect(loopbackTarget('::1')).toBe('::1');
    expect(loopbackTarget('127.0.0.2')).toBe('127.0.0.2');
    expect(loopbackTarget('localhost')).toBe('127.0.0.1');
    expect(loopbackTarget('192.168.1.10')).toBe('127.0.0.1');
  });

  it('opens a second loopback listener only for an address loopback cannot reach', () => {
    expect(needsLoopbackListener('192.168.1.10')).toBe(true);
    expect(needsLoopbackListener('fd00::10')).toBe(true);
    expect(needsLoopbackListener('mfabox.corp.example')).toBe(true);
    for (const a of ['0.0.0.0', '::', '127.0.0.1', '::1', 'localhost'])
      expect(needsLoopbackListener(a)).toBe(false);
  });
});
