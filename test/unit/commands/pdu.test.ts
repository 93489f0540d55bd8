import { afterEach, describe, expect, it, vi } from 'vitest';
import { pduEncodeCommand } from '../../../firmware/src/commands/pdu.ts';
import { ErrorCode, isMfaError } from '../../../firmware/src/errors.ts';
import { decodeSubmit } from '../../../firmware/src/modem/pdu/index.ts';

afterEach(() => vi.restoreAllMocks());

async function run(args: string[]): Promise<string[]> {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((s: unknown) => void lines.push(String(s)));
  expect(await pduEncodeCommand.run(args)).toBe(0);
  return lines;
}

describe('mfabox pdu encode', () => {
  it('prints "<tpdu-length> <hex>" with the 00 SMSC octet, honouring the flags', async () => {
    const [line] = await run([
      '--to',
      '+15550000001',
      '--flash',
      '--report',
      '--validity',
      '600',
      'Your',
      'code',
      '123456',
    ]);
    const [len, hex] = (line ?? '').split(' ');
    expect(hex?.startsWith('00')).toBe(true);
    expect(Number(len)).toBe((hex!.length - 2) / 2);
    expect(decodeSubmit(hex!)).toMatchObject({
      to: '+15550000001',
      text: 'Your code 123456',
      flash: true,
      statusReport: true,
      validitySeconds: 600,
    });
  });

  it('prints one line per part of a long text', async () => {
    expect(await run(['--to', '+15550000001', 'x'.repeat(200)])).toHaveLength(2);
  });

  it('refuses a missing number or text and a bad validity with CliUsage', async () => {
    for (const args of [['hi'], ['--to', '+1555'], ['--to', '+1555', '--validity', 'soon', 'hi']]) {
      const e: unknown = await pduEncodeCommand.run(args).catch((x: unknown) => x);
      expect(isMfaError(e, ErrorCode.CliUsage), args.join(' ')).toBe(true);
    }
  });
});
