/**
 * serialport's Linux binding, with reads and writes done on the event loop when the kernel can
 * take them at once.
 *
 * The stock binding does every read and write with `fs.read`/`fs.write` on libuv's thread pool.
 * An AT exchange is a few dozen bytes each way, and every SMS makes four of them (command,
 * prompt, PDU, result), so each pool round trip lands on the modem's critical path: about 0.1–0.3
 * ms apiece, more when LevelDB and fsync work hold the pool. The tty is opened O_NONBLOCK, so a
 * `readSync` after the poller says "readable", or a `writeSync` of a short command, returns at once
 * and cannot stall the loop; when the kernel says EAGAIN (buffer full, nothing to read) we wait on
 * the binding's own poller. Any other error, and end of file, is the port going away: it is thrown
 * as a disconnect, which serialport's stream turns into 'close', as it does for the stock binding.
 */
import { readSync, writeSync } from 'node:fs';
// The package's ESM entry ships no types; its CommonJS one does (the same declarations).
import type {
  BindingInterface,
  BindingPortInterface,
  OpenOptions,
} from '@serialport/bindings-interface' with { 'resolution-mode': 'require' };

/** What the stock Linux/Darwin port binding has beyond the interface. */
interface PollerLike {
  on(event: 'readable' | 'writable', cb: (err: Error | null) => void): unknown;
  off(event: 'readable' | 'writable', cb: (err: Error | null) => void): unknown;
  poll(flags: number): void;
}
interface UnixPort extends BindingPortInterface {
  fd: number | null;
  readonly poller: PollerLike;
}

function isUnixPort(p: BindingPortInterface): p is UnixPort {
  const u = p as Partial<UnixPort>;
  return (
    typeof u.fd === 'number' && typeof u.poller?.poll === 'function' && typeof u.poller.on === 'function'
  );
}

// libuv's uv_poll_event values.
const UV_READABLE = 1;
const UV_WRITABLE = 2;

const WOULD_BLOCK = new Set(['EAGAIN', 'EWOULDBLOCK', 'EINTR']);
const wouldBlock = (e: unknown): boolean =>
  WOULD_BLOCK.has((e as NodeJS.ErrnoException | undefined)?.code ?? '');

/**
 * A read or write error is the port going away (serialport's stream closes the port on any error
 * not marked canceled); marked like the stock binding marks EBADF/ENXIO, plus EIO and EOF, which
 * is how a USB tty or a pty reports an unplug.
 */
function disconnected(e: unknown): Error {
  const err = e instanceof Error ? e : new Error(String(e));
  return Object.assign(err, { disconnect: true });
}

/** The error serialport expects from a read or write cut short by close(): not a disconnect. */
function canceled(): Error {
  return Object.assign(new Error('Port is not open'), { canceled: true });
}

/** One open port: the stock binding for everything, but read and write try the kernel first. */
export class EventLoopTtyPort implements BindingPortInterface {
  private readonly waiting = { readable: false, writable: false };
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly inner: UnixPort) {}

  /**
   * Waits on the binding's poller. The native poller restarts its watch with only the events
   * of the latest request, so a read waiting for "readable" would silently cancel a write
   * waiting for "writable" (a stalled write); every request therefore names both when both wait.
   */
  private when(event: 'readable' | 'writable'): Promise<void> {
    const poller = this.inner.poller;
    return new Promise((resolve, reject) => {
      const done = (err: Error | null): void => {
        poller.off(event, done);
        this.waiting[event] = false;
        if (err) reject(err);
        else resolve();
      };
      poller.on(event, done);
      this.waiting[event] = true;
      try {
        poller.poll((this.waiting.readable ? UV_READABLE : 0) | (this.waiting.writable ? UV_WRITABLE : 0));
      } catch (e) {
        done(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  get openOptions(): Required<OpenOptions> {
    return this.inner.openOptions;
  }

  get isOpen(): boolean {
    return this.inner.isOpen;
  }

  async read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    for (;;) {
      const fd = this.inner.fd;
      if (!this.inner.isOpen || fd === null) throw canceled();
      try {
        const bytesRead = readSync(fd, buffer, offset, length, null);
        if (bytesRead > 0) return { buffer, bytesRead };
        // With VMIN 1 an idle tty says EAGAIN; end of file means the other side hung up (a pty
        // whose peer closed). The stock binding would read again forever.
        throw disconnected(Object.assign(new Error('the serial port hung up'), { code: 'EOF' }));
      } catch (e) {
        if (!wouldBlock(e)) throw disconnected(e);
      }
      await this.when('readable');
    }
  }

  write(buffer: Buffer): Promise<void> {
    const w = this.writeAll(buffer);
    this.writing = w.catch(() => undefined);
    return w;
  }

  private async writeAll(buffer: Buffer): Promise<void> {
    let rest = buffer;
    while (rest.length > 0) {
      const fd = this.inner.fd;
      if (!this.inner.isOpen || fd === null) throw canceled();
      let n = 0;
      try {
        n = writeSync(fd, rest);
      } catch (e) {
        if (!wouldBlock(e)) throw disconnected(e);
      }
      rest = rest.subarray(n);
      // Nothing taken (EAGAIN, or a driver that returns 0): wait for room instead of spinning.
      if (n === 0) await this.when('writable');
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }
  update(options: Parameters<BindingPortInterface['update']>[0]): Promise<void> {
    return this.inner.update(options);
  }
  set(options: Parameters<BindingPortInterface['set']>[0]): ReturnType<BindingPortInterface['set']> {
    return this.inner.set(options);
  }
  get(): ReturnType<BindingPortInterface['get']> {
    return this.inner.get();
  }
  getBaudRate(): ReturnType<BindingPortInterface['getBaudRate']> {
    return this.inner.getBaudRate();
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  /** Waits for our own write in progress (the stock drain only knows its own), then tcdrain. */
  async drain(): Promise<void> {
    await this.writing;
    return this.inner.drain();
  }
}

/** Wraps a serialport binding so its Unix ports read and write on the event loop. */
export function eventLoopTtyBinding<O extends OpenOptions>(
  stock: BindingInterface<BindingPortInterface, O>,
): BindingInterface<BindingPortInterface, O> {
  return {
    list: () => stock.list(),
    async open(options: O): Promise<BindingPortInterface> {
      const port = await stock.open(options);
      return isUnixPort(port) ? new EventLoopTtyPort(port) : port;
    },
  };
}
