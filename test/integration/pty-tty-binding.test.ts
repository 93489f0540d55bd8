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
import { SerialPort } from 'serialport';

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

const stockDoubleMethods = {
  read: (b: Buffer) => Promise.resolve({ buffer: b, bytesRead: 1 }),
  write: () => Promise.resolve(),
  close: () => Promise.resolve(),
  update: () => Promise.resolve(),
  set: () => Promise.resolve(),
  get: () => Promise.resolve({ cts: false, dsr: false, dcd: false }),
  getBaudRate: () => Promise.resolve({ baudRate: 115200 }),
  flush: () => Promise.resolve(),
  drain: () => Promise.resolve(),
};

describe('event-loop tty port on the stock binding', () => {
  const open = async () => {
    await transport.close(); // serialport locks the tty: the port is opened here on its own
    return new EventLoopTtyPort(
      (await SerialPort.binding.open({
        path: pty.hostPath,
        baudRate: 115200,
      })) as unknown as ConstructorParameters<typeof EventLoopTtyPort>[0],
    );
  };

  it('while a read and a write both wait, every poll asks for both (the native poller keeps only the latest request)', async () => {
    await transport.close(); // serialport locks the tty: the port is opened here on its own
    const stock = (await SerialPort.binding.open({ path: pty.hostPath, baudRate: 115200 })) as unknown as {
      fd: number;
      close(): Promise<void>;
    };
    // The real tty, with a poller that records what is asked of it: socat, in between, stops
    // relaying the other way while one direction is full, so the kernel cannot show this alone.
    const polls: number[] = [];
    const listeners = new Map<string, (err: Error | null) => void>();
    const fire = (event: string) => listeners.get(event)?.(null);
    const port = new EventLoopTtyPort({
      ...stockDoubleMethods,
      fd: stock.fd,
      isOpen: true,
      openOptions: {} as never,
      poller: {
        on: (e, cb) => listeners.set(e, cb),
        off: (e) => listeners.delete(e),
        poll: (flags) => polls.push(flags),
      },
    });
    try {
      const buf = Buffer.alloc(4096);
      let got = 0;
      const read = port.read(buf, 0, buf.length).then((r) => (got = r.bytesRead));
      await sleep(10);
      expect(polls).toEqual([1]); // readable
      const payload = Buffer.alloc(256 * 1024, 0x55);
      let written = false;
      const write = port.write(payload).then(() => (written = true));
      await sleep(50);
      expect(written).toBe(false);
      expect(polls.at(-1)).toBe(3); // readable | writable: the read keeps its watch
      // A wake-up with nothing to read: the read asks again, and must not drop the write's watch.
      fire('readable');
      await sleep(10);
      expect(got).toBe(0);
      expect(polls.at(-1)).toBe(3);
      const received = peerRead(payload.length);
      while (!written) {
        fire('writable');
        await sleep(5);
      }
      expect((await received).equals(payload)).toBe(true);
      await write;
      await peerWrite('y');
      while (got === 0) {
        fire('readable');
        await sleep(5);
      }
      await read;
      expect(buf.toString('latin1', 0, got)).toBe('y');
      void port.read(buf, 0, buf.length).catch(() => undefined);
      await sleep(10);
      expect(polls.at(-1)).toBe(1); // with the write done, a read asks for readable alone
    } finally {
      await stock.close();
    }
  });

  it('drain waits for a write that is still waiting for room', async () => {
    const port = await open();
    try {
      const payload = Buffer.alloc(128 * 1024, 0x33);
      const write = port.write(payload);
      let drained = false;
      const drain = port.drain().then(() => (drained = true));
      await sleep(50);
      expect(drained).toBe(false);
      await peerRead(payload.length);
      await write;
      await Promise.race([drain, sleep(5000)]);
      expect(drained).toBe(true);
    } finally {
      await port.close();
    }
  });
});

describe('event-loop tty port: the port going away', () => {
  function stockDouble(fd: number) {
    const calls: string[] = [];
    const port = {
      ...stockDoubleMethods,
      fd,
      isOpen: true,
      openOptions: {} as never,
      poller: { on: () => undefined, off: () => undefined, poll: () => undefined },
      read: (b: Buffer) => {
        calls.push('read');
        return Promise.resolve({ buffer: b, bytesRead: 1 });
      },
      write: () => {
        calls.push('write');
        return Promise.resolve();
      },
    };
    return { port, calls };
  }

  it.each([
    ['write', 'r' as const],
    ['read', 'w' as const],
  ])(
    'a %s the kernel refuses (EBADF) is a disconnect, not a retry through the stock binding',
    async (op, mode) => {
      const fd = openSync('/dev/null', mode);
      try {
        const { port, calls } = stockDouble(fd);
        const tty = new EventLoopTtyPort(port);
        const attempt = op === 'write' ? tty.write(Buffer.from('AT\r')) : tty.read(Buffer.alloc(8), 0, 8);
        await expect(attempt).rejects.toMatchObject({ code: 'EBADF', disconnect: true });
        expect(calls).toEqual([]);
      } finally {
        closeSync(fd);
      }
    },
  );

  it('end of file (a hung-up tty) is a disconnect at once, not a read loop', async () => {
    const fd = openSync(join(dir, 'empty'), 'w+');
    try {
      const { port } = stockDouble(fd);
      await expect(new EventLoopTtyPort(port).read(Buffer.alloc(8), 0, 8)).rejects.toMatchObject({
        code: 'EOF',
        disconnect: true,
      });
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
