import { describe, expect, it } from 'vitest';
import { ErrorCode, MfaError } from '../../../firmware/src/errors.ts';
import { AtChannel, CTRL_Z, ESC } from '../../../firmware/src/modem/channel.ts';
import type { FramerEvent } from '../../../firmware/src/modem/at/framer.ts';
import { MemoryTransport } from '../../support/memory-transport.ts';

const FAST = { basic: 200, prompt: 200, send: 300, slow: 300, drainQuiet: 30, drainMax: 200 };

async function channel(responder: ConstructorParameters<typeof MemoryTransport>[0]) {
  const t = new MemoryTransport(responder);
  await t.open();
  return { t, ch: new AtChannel(t, FAST) };
}

describe('AtChannel', () => {
  it('runs one command at a time, in order, and matches each final to its command', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const { ch } = await channel((cmd, t) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        t.emitData(`${cmd}\r\r\n+R: ${cmd}\r\n\r\nOK\r\n`);
      }, 5);
    });
    const rs = await Promise.all(['AT+A', 'AT+B', 'AT+C'].map((c) => ch.exec(c)));
    expect(rs.map((r) => r.lines)).toEqual([['+R: AT+A'], ['+R: AT+B'], ['+R: AT+C']]);
    expect(maxInFlight).toBe(1);
    expect(ch.commandCount).toBe(3);
  });

  it('resolves with an error final and keeps URCs out of the reply', async () => {
    const urcs: FramerEvent[] = [];
    const { ch } = await channel((_c, t) => t.emitData('\r\n+CMTI: "SM",1\r\n\r\n+CME ERROR: 10\r\n'));
    ch.on('urc', (e: FramerEvent) => urcs.push(e));
    const r = await ch.exec('AT+CPIN?');
    expect(r.final).toEqual({ ok: false, family: 'cme', code: 10, text: '10' });
    expect(r.lines).toEqual([]);
    expect(urcs).toEqual([{ type: 'urc', name: '+CMTI', line: '+CMTI: "SM",1' }]);
  });

  it('times out, drains a late final so the next command is not fooled', async () => {
    const { t, ch } = await channel((cmd, tr) => {
      if (cmd === 'AT+SLOW') setTimeout(() => tr.emitData('\r\n+SLOW: 1\r\n\r\nOK\r\n'), 220);
      else tr.emitData('\r\nERROR\r\n');
    });
    const stray: string[] = [];
    ch.on('stray', (s: string) => stray.push(s));
    await expect(ch.exec('AT+SLOW')).rejects.toMatchObject({ code: ErrorCode.ModemTimeout });
    const next = await ch.exec('AT+NEXT');
    expect(next.final.ok).toBe(false);
    expect(stray).toContain('OK');
    expect(t.written).toContain('AT+NEXT\r');
  });

  it('accepts +CPIN: READY without a final OK when told the modem omits it', async () => {
    const { ch } = await channel((_c, t) => t.emitData('\r\n+CPIN: READY\r\n'));
    const r = await ch.exec('AT+CPIN?', { finalOptionalAfter: '+CPIN:', noFinalGraceMs: 30 });
    expect(r).toEqual({ lines: ['+CPIN: READY'], final: { ok: true, text: 'OK' } });
  });

  it('redacts a secret command in logs but still sends it', async () => {
    const { t, ch } = await channel((_c, tr) => tr.emitData('\r\nOK\r\n'));
    await ch.exec('AT+CPIN="1234"', { secret: true });
    expect(t.written).toBe('AT+CPIN="1234"\r');
  });

  describe('submit', () => {
    const modem =
      (opts: { final?: string; noPrompt?: boolean; refuse?: string }) =>
      (cmd: string, t: MemoryTransport) => {
        if (cmd.startsWith('AT+CMGS=')) {
          if (opts.refuse) t.emitData(`\r\n${opts.refuse}\r\n`);
          else if (!opts.noPrompt) t.emitData(`${cmd}\r\r\n> `);
          return;
        }
        if (cmd.endsWith(CTRL_Z)) {
          if (opts.final) t.emitData(`${cmd}\r\n${opts.final}`);
          return;
        }
        if (cmd === ESC) t.emitData('\r\nOK\r\n');
      };

    it('waits for the prompt, awaits beforeSubmit, writes PDU + Ctrl-Z and returns +CMGS', async () => {
      const order: string[] = [];
      const { t, ch } = await channel(modem({ final: '\r\n+CMGS: 7\r\n\r\nOK\r\n' }));
      const r = await ch.submit('AT+CMGS=5', '00AABBCCDD', {
        beforeSubmit: async () => {
          order.push(`before:${t.written.includes(CTRL_Z)}`);
          await Promise.resolve();
        },
      });
      expect(order).toEqual(['before:false']);
      expect(r.submitted).toBe(true);
      expect(r.response.lines).toEqual(['+CMGS: 7']);
      expect(t.written).toBe(`AT+CMGS=5\r00AABBCCDD${CTRL_Z}`);
    });

    it('returns the final when the modem refuses the command instead of prompting', async () => {
      const { ch } = await channel(modem({ refuse: '+CMS ERROR: 304' }));
      const r = await ch.submit('AT+CMGS=5', '00AA');
      expect(r.submitted).toBe(false);
      expect(r.response.final).toMatchObject({ ok: false, family: 'cms', code: 304 });
    });

    it('abandons with ESC (never Ctrl-Z) when beforeSubmit rejects', async () => {
      const { t, ch } = await channel(modem({ final: '\r\n+CMGS: 7\r\n\r\nOK\r\n' }));
      const boom = new MfaError('store down', ErrorCode.StoreWriteFailed);
      await expect(ch.submit('AT+CMGS=5', '00AA', { beforeSubmit: () => Promise.reject(boom) })).rejects.toBe(
        boom,
      );
      expect(t.written).toBe(`AT+CMGS=5\r${ESC}`);
      expect(t.written).not.toContain(CTRL_Z);
      // The channel is usable afterwards.
      t.setResponder((_c, tr) => tr.emitData('\r\nOK\r\n'));
      expect((await ch.exec('AT')).final.ok).toBe(true);
    });

    it('abandons with ESC when no prompt comes; the outcome is known (nothing sent)', async () => {
      const { t, ch } = await channel(modem({ noPrompt: true }));
      const err = await ch.submit('AT+CMGS=5', '00AA').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MfaError);
      expect((err as MfaError).code).toBe(ErrorCode.ModemTimeout);
      expect((err as MfaError).flags.outcomeUnknown).toBeFalsy();
      expect(t.written.endsWith(ESC)).toBe(true);
      expect(t.written).not.toContain(CTRL_Z);
    });

    it('flags outcomeUnknown when the final never comes after Ctrl-Z', async () => {
      const { ch } = await channel(modem({}));
      const err = (await ch.submit('AT+CMGS=5', '00AA').catch((e: unknown) => e)) as MfaError;
      expect(err.code).toBe(ErrorCode.ModemTimeout);
      expect(err.flags.outcomeUnknown).toBe(true);
    });

    it('fails at once with outcomeUnknown when the port goes away after Ctrl-Z', async () => {
      const { t, ch } = await channel((cmd, tr) => {
        if (cmd.startsWith('AT+CMGS')) tr.emitData('\r\n> ');
        else tr.unplug();
      });
      const started = performance.now();
      const err = (await ch.submit('AT+CMGS=5', '00AA').catch((e: unknown) => e)) as MfaError;
      expect(performance.now() - started).toBeLessThan(FAST.send);
      expect(err.code).toBe(ErrorCode.ModemClosed);
      expect(err.flags).toMatchObject({ outcomeUnknown: true, disconnected: true });
      expect(ch.closed).toBe(true);
      await expect(ch.exec('AT')).rejects.toMatchObject({ code: ErrorCode.ModemClosed });
      expect(t.isOpen).toBe(false);
    });
  });

  it('escape() writes ESC and drains', async () => {
    const { t, ch } = await channel((_c, tr) => tr.emitData('\r\nOK\r\n'));
    await ch.escape();
    expect(t.written).toBe(ESC);
  });

  it('a command in flight when the port closes rejects with ModemClosed', async () => {
    const { t, ch } = await channel(() => undefined);
    const p = ch.exec('AT+CSQ');
    setTimeout(() => t.unplug(), 5);
    await expect(p).rejects.toMatchObject({ code: ErrorCode.ModemClosed, flags: { disconnected: true } });
  });

  it('slow-class commands get the slow timeout', async () => {
    const { ch } = await channel((_c, t) => setTimeout(() => t.emitData('\r\nOK\r\n'), 250));
    expect((await ch.exec('AT+CFUN=1', { class: 'slow' })).final.ok).toBe(true);
    await expect(ch.exec('AT+CFUN=1')).rejects.toMatchObject({ code: ErrorCode.ModemTimeout });
  });

  it('abortInFlight fails the waiting command at once; a stray prompt is ignored', async () => {
    const { t, ch } = await channel(() => undefined);
    const p = ch.exec('AT+CSQ');
    setTimeout(() => {
      t.emitData('\r\n> ');
      ch.abortInFlight(new MfaError('restarted', ErrorCode.ModemClosed, { flags: { canceled: true } }));
    }, 5);
    await expect(p).rejects.toMatchObject({ flags: { canceled: true } });
    ch.abortInFlight(new MfaError('nothing in flight', ErrorCode.ModemClosed));
  });

  it('a failing write rejects the command, the prompt phase and the payload phase', async () => {
    const t = new MemoryTransport((cmd, tr) => {
      if (cmd.startsWith('AT+CMGS')) {
        tr.emitData('\r\n> ');
        tr.isOpen = false;
      }
    });
    const ch = new AtChannel(t, FAST);
    await expect(ch.exec('AT')).rejects.toMatchObject({ code: ErrorCode.ModemClosed });
    await expect(ch.submit('AT+CMGS=5', '00')).rejects.toMatchObject({ code: ErrorCode.ModemClosed });
    t.isOpen = true;
    const err = (await ch.submit('AT+CMGS=5', '00').catch((e: unknown) => e)) as MfaError;
    expect(err.code).toBe(ErrorCode.ModemClosed);
    expect(err.flags.outcomeUnknown).toBe(true);
  });

  it('any failing payload write (not only an MfaError) is outcome-unknown: bytes may have gone', async () => {
    const t = new MemoryTransport((cmd, tr) => {
      if (cmd.startsWith('AT+CMGS')) tr.emitData('\r\n> ');
    });
    await t.open();
    const write = t.write.bind(t);
    t.write = (data) => {
      const s = typeof data === 'string' ? data : data.toString('latin1');
      return s.endsWith(CTRL_Z) ? Promise.reject(new Error('EIO')) : write(data);
    };
    const ch = new AtChannel(t, FAST);
    const err = (await ch.submit('AT+CMGS=5', '00').catch((e: unknown) => e)) as MfaError;
    expect(err).toBeInstanceOf(MfaError);
    expect(err.flags.outcomeUnknown).toBe(true);
  });

  it('the port closing while waiting for the prompt fails the send with a known outcome', async () => {
    const { t, ch } = await channel((cmd, tr) => {
      if (cmd.startsWith('AT+CMGS')) tr.unplug();
    });
    const err = (await ch.submit('AT+CMGS=5', '00').catch((e: unknown) => e)) as MfaError;
    expect(err.code).toBe(ErrorCode.ModemClosed);
    expect(err.flags.outcomeUnknown).toBeFalsy();
    expect(t.written).not.toContain(CTRL_Z);
    await ch.drain();
  });

  it('finalOptionalAfter does not accept a reply without the expected line', async () => {
    const { ch } = await channel((_c, t) => t.emitData('\r\n+OTHER: 1\r\n'));
    await expect(
      ch.exec('AT+CPIN?', { finalOptionalAfter: '+CPIN:', noFinalGraceMs: 20 }),
    ).rejects.toMatchObject({
      code: ErrorCode.ModemTimeout,
    });
  });

  it('a transport that closes without an error still fails the channel', async () => {
    const { t, ch } = await channel(() => undefined);
    t.emit('close', undefined);
    await expect(ch.exec('AT')).rejects.toMatchObject({
      code: ErrorCode.ModemClosed,
      flags: { disconnected: true },
    });
  });
});
