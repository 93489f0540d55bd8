import { afterEach, describe, expect, it, vi } from 'vitest';
import { logger } from '../../../../firmware/src/log.ts';
import { AtChannel } from '../../../../firmware/src/modem/channel.ts';
import { redactCommand, strayShape } from '../../../../firmware/src/modem/at/redact.ts';
import { encodeSubmit } from '../../../../firmware/src/modem/pdu/index.ts';
import { MemoryTransport } from '../../../support/memory-transport.ts';

const FAST = { basic: 200, prompt: 200, send: 300, slow: 300, drainQuiet: 30, drainMax: 200 };

/** Runs fn with modem:at at debug level and returns every log line written meanwhile. */
async function captured(fn: () => Promise<void>): Promise<string> {
  const log = logger('modem:at');
  const level = log.level;
  log.level = 'trace';
  let out = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  });
  try {
    await fn();
  } finally {
    spy.mockRestore();
    log.level = level;
  }
  return out;
}

afterEach(() => vi.restoreAllMocks());

describe('modem traffic in logs', () => {
  it('never logs a PIN, a PDU or an SMS body that arrives as a stray line', async () => {
    const pdu = encodeSubmit({ to: '+15550000001', text: 'Code 739164' })[0]?.hex.toUpperCase() ?? '';
    expect(pdu.length).toBeGreaterThan(20);
    const t = new MemoryTransport((_c, tr) => tr.emitData('\r\nOK\r\n'));
    await t.open();
    const ch = new AtChannel(t, FAST);
    const out = await captured(async () => {
      // Late echoes after a timeout/drain: the PIN entry, the PDU, a text-mode body.
      t.emitData(`AT+CPIN="4321"\r\r\n`);
      t.emitData(`${pdu}\r\n`);
      t.emitData('739164 is your code\r\n');
      t.emitData('AT+CLCK="SC",0,"8765"\r\n');
      await new Promise((r) => setTimeout(r, 10));
      await ch.exec('AT');
      // A caller that forgets `secret`: still redacted by its verb.
      await ch.exec('AT+CPIN="2468"');
    });
    expect(out).toMatch(/unexpected line/);
    expect(out).toMatch(/at command/);
    for (const secret of ['4321', '8765', '2468', '739164', pdu.slice(0, 16), pdu.slice(-16)])
      expect(out).not.toContain(secret);
  });

  it('a text-mode submit names no phone number in its log or its timeout error', async () => {
    const t = new MemoryTransport(() => undefined); // never prompts
    await t.open();
    const ch = new AtChannel(t, FAST);
    let err: unknown;
    const out = await captured(async () => {
      err = await ch.submit('AT+CMGS="+15550009876",145', 'Code 739164').catch((e: unknown) => e);
    });
    expect(out).toMatch(/at submit/);
    expect(out).not.toContain('9876');
    expect(String((err as Error).message)).not.toContain('9876');
    expect(redactCommand('AT+CMGS="+15550009876",145')).toBe('AT+CMGS="[number]",145');
    expect(redactCommand('AT+CMGS=23')).toBe('AT+CMGS=23');
  });

  it('describes stray lines by shape only, keeping harmless prefixes for diagnosis', () => {
    expect(strayShape('AT+CPIN="1234"')).toEqual({ kind: 'echo', len: 14 });
    expect(strayShape('AT+CMGS=23')).toEqual({ kind: 'echo', len: 10, prefix: 'AT+CMGS' });
    expect(strayShape('0011000B915155000000F10000A70')).toMatchObject({ kind: 'hex' });
    expect(strayShape('+CSQ: 20,99')).toEqual({ kind: 'reply', len: 11, prefix: '+CSQ' });
    expect(strayShape('123456 is your code')).toEqual({ kind: 'text', len: 19 });
    expect(redactCommand('AT+CPIN2="1234"')).toBe('AT+CPIN2=[redacted]');
    expect(redactCommand('AT+CPWD="SC","1111","2222"')).toBe('AT+CPWD=[redacted]');
    expect(redactCommand('AT+CPIN?')).toBe('AT+CPIN?');
    expect(redactCommand('AT+CSQ')).toBe('AT+CSQ');
  });
});
