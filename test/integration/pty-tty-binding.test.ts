/**
 * The event-loop tty binding under the real transport, over a real pty pair (socat): bytes in
 * order both ways, including writes far larger than the pty's buffer (the EAGAIN/writable
 * path) and reads that wait (the poller path), plus close and unplug as serialport reports them.
 */
import { closeSync, constants, openSync, readSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, type MfaError } from '../../firmware/src/errors.ts';
import { SocatPty } from '../../firmware/src/modem/simulator/pty.ts';
import { serialTransport, type ModemTransport } from '../../firmware/src/modem/transport.ts';
import { EventLoopTtyPort } from '../../firmware/src/modem/tty-binding.ts';

let dir: string;
let pty: SocatPty;
let transport: ModemTransport;
let peer: number | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mfabox-tty-'));
  pty = new SocatPty(join(dir, 'host'), join(dir, 'peer'));
  await pty.start();
  transport = serialTransport({ path: pty.hostPath });
  await transport.open();
  // Non-blocking: a blocking read here would stall the event loop the transport needs.
  peer = openSync(pty.simPath, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
});

afterEach(async () => {
  await transport.close();
  if (peer !== undefined) closeSync(peer);
  peer = undefined;
  await pty.stop();
  await rm(dir, { recursive: true, force: true });
});

const again = (e: unknown) => (e as NodeJS.ErrnoException).code === 'EAGAIN';

/** Reads from the peer end until `n` bytes arrived, pausing between reads. */
async function peerRead(n: number, pauseMs = 0): Promise<Buffer> {
  const out: Buffer[] = [];
  let got = 0;
  const buf = Buffer.alloc(4096);
  const until = performance.now() + 20_000;
  while (got < n) {
    if (performance.now() > until) throw new Error(`peer got ${got} of ${n} bytes`);
    try {
      const k = readSync(peer as number, buf, 0, Math.min(buf.length, n - got), null);
      out.push(Buffer.from(buf.subarray(0, k)));
      got += k;
    } catch (e) {
      if (!again(e)) throw e;
    }
    await sleep(pauseMs);
  }
  return Buffer.concat(out);
}

/** Writes all of `data` from the peer end, waiting whenever the pty is full. */
async function peerWrite(data: Buffer | string): Promise<void> {
  let rest = Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1');
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(peer as number, rest));
    } catch (e) {
      if (!again(e)) throw e;
      await sleep(1);
    }
  }
}

describe('event-loop tty binding over a real pty', () => {
  it('writes a payload far larger than the pty buffer, whole and in order, while the peer reads slowly', async () => {
    const payload = Buffer.alloc(256 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 9)) & 0xff;
    const written = transport.write(payload);
    const received = await peerRead(payload.length, 1);
    await written;
    expect(received.equals(payload)).toBe(true);
  });

  it('keeps several back-to-back writes in order', async () => {
    const parts = Array.from({ length: 50 }, (_, i) => `AT+CMGS=${i}\r`);
    const all = Buffer.from(parts.join(''), 'latin1');
    const done = Promise.all(parts.map((p) => transport.write(p)));
    const received = await peerRead(all.length);
    await done;
    expect(received.toString('latin1')).toBe(all.toString('latin1'));
  });

  it('delivers bytes that arrive after a wait, and a burst larger than one read, in order', async () => {
    const chunks: Buffer[] = [];
    transport.on('data', (c) => chunks.push(c));
    await sleep(50); // the binding is now parked on the poller, not spinning
    await peerWrite('\r\n> ');
    await sleep(50);
    const burst = Buffer.alloc(100_000, 0x41);
    await peerWrite(burst);
    const want = Buffer.concat([Buffer.from('\r\n> ', 'latin1'), burst]);
    const until = performance.now() + 10_000;
    while (Buffer.concat(chunks).length < want.length && performance.now() < until) await sleep(10);
    expect(Buffer.concat(chunks).equals(want)).toBe(true);
  });

  it('closing while a read waits is quiet: no close or error event', async () => {
    const events: string[] = [];
    transport.on('close', () => events.push('close'));
    await sleep(30);
    await transport.close();
    await sleep(50);
    expect(events).toEqual([]);
    expect(transport.isOpen).toBe(false);
  });

  it('an unplug (the pty vanishes) is reported as a disconnect, and writes then fail with ModemClosed', async () => {
    const closed = new Promise<MfaError | undefined>((r) => transport.once('close', r));
    closeSync(peer as number);
    peer = undefined;
    await pty.stop();
    const err = await closed;
    expect(err).toMatchObject({ code: ErrorCode.ModemClosed, flags: { disconnected: true } });
    await expect(transport.write('AT\r')).rejects.toMatchObject({ code: ErrorCode.ModemClosed });
  });
});

describe('event-loop tty port: errors other than EAGAIN go to the stock binding', () => {
  function stockDouble(fd: number) {
    const calls: string[] = [];
    const port = {
      fd,
      isOpen: true,
      openOptions: {} as never,
      poller: { on: () => undefined, off: () => undefined, poll: () => undefined },
      read: (b: Buffer) => {
        calls.push('read');
        return Promise.resolve({ buffer: b, bytesRead: 1 });
      },
      write: (b: Buffer) => {
        calls.push(`write ${b.toString('latin1')}`);
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
      update: () => Promise.resolve(),
      set: () => Promise.resolve(),
      get: () => Promise.resolve({ cts: false, dsr: false, dcd: false }),
      getBaudRate: () => Promise.resolve({ baudRate: 115200 }),
      flush: () => Promise.resolve(),
      drain: () => Promise.resolve(),
    };
    return { port, calls };
  }

  it('a write the kernel refuses (EBADF) is handed to the stock write, which reports it its own way', async () => {
    const fd = openSync('/dev/null', 'r');
    try {
      const { port, calls } = stockDouble(fd);
      await new EventLoopTtyPort(port).write(Buffer.from('AT\r'));
      expect(calls).toEqual(['write AT\r']);
    } finally {
      closeSync(fd);
    }
  });

  it('a read the kernel refuses (EBADF) is handed to the stock read', async () => {
    const fd = openSync('/dev/null', 'w');
    try {
      const { port, calls } = stockDouble(fd);
      await new EventLoopTtyPort(port).read(Buffer.alloc(8), 0, 8);
      expect(calls).toEqual(['read']);
    } finally {
      closeSync(fd);
    }
  });

  it('a closed port fails a read with a canceled error, which serialport does not treat as a disconnect', async () => {
    const { port } = stockDouble(-1);
    port.isOpen = false;
    await expect(new EventLoopTtyPort(port).read(Buffer.alloc(8), 0, 8)).rejects.toMatchObject({
      canceled: true,
    });
  });
});
