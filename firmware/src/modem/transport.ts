/**
 * The byte seam under the AT channel (zwave-js style: a small factory the driver is given).
 * The real one is serialport; tests and the demo point it at a pty path, so the same serial code
 * runs there as on the box. A test double only has to implement `ModemTransport`.
 */
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { SerialPortStream } from '@serialport/stream';
import { SerialPort } from 'serialport';
import { ErrorCode, MfaError } from '../errors.ts';
import { eventLoopTtyBinding } from './tty-binding.ts';

export interface TransportOptions {
  /** Serial device; prefer /dev/serial/by-id/... (stable across re-enumeration). */
  path: string;
  /** Baud rate, default 115200. USB modems ignore it; UART modules (SIM800 on a HAT) do not. */
  baudRate?: number;
  /** RTS/CTS hardware flow control, default false. Without it a UART drops echo characters. */
  rtscts?: boolean;
}

/**
 * Bytes in and out. Emits 'data' (Buffer) and 'close' (MfaError | undefined) when the port goes
 * away on its own (unplug, re-enumeration, the pty peer closing). `close()` by us emits nothing.
 */
export interface ModemTransport extends EventEmitter {
  readonly path: string;
  readonly isOpen: boolean;
  open(): Promise<void>;
  /** Resolves once the bytes were handed to the OS (drained). */
  write(data: Buffer | string): Promise<void>;
  close(): Promise<void>;
  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'close', listener: (err: MfaError | undefined) => void): this;
}

/**
 * Opens a port. `exists` says whether a path is there to open (default: the device node exists),
 * for the recovery ladder's wait after an unplug or a reset; a factory whose ports are not device
 * nodes (an in-process link) supplies its own.
 */
export type TransportFactory = ((opts: TransportOptions) => ModemTransport) & {
  exists?: (path: string) => boolean;
};

/** serialport's own binding, reading and writing on the event loop (see tty-binding.ts). */
const ttyBinding = eventLoopTtyBinding(SerialPort.binding);

type Binding = ConstructorParameters<typeof SerialPortStream>[0]['binding'];

class SerialTransport extends EventEmitter implements ModemTransport {
  private port: SerialPortStream | undefined;
  private closing = false;

  constructor(
    private readonly opts: TransportOptions,
    private readonly binding: Binding,
  ) {
    super();
  }

  get path(): string {
    return this.opts.path;
  }

  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  async open(): Promise<void> {
    if (this.isOpen) return;
    this.closing = false;
    const port = new SerialPortStream({
      binding: this.binding,
      path: this.opts.path,
      baudRate: this.opts.baudRate ?? 115200,
      rtscts: this.opts.rtscts ?? false,
      autoOpen: false,
    });
    await new Promise<void>((resolve, reject) =>
      port.open((err) =>
        err
          ? reject(
              new MfaError(`cannot open ${this.opts.path}: ${err.message}`, ErrorCode.ModemPortUnavailable, {
                cause: err,
                flags: { disconnected: true },
              }),
            )
          : resolve(),
      ),
    );
    this.port = port;
    port.on('data', (chunk: Buffer) => this.emit('data', chunk));
    // A read error on a vanished tty arrives as 'error' on some kernels and as 'close' on others.
    const gone = (err?: Error | null) => {
      if (this.port !== port) return;
      this.port = undefined;
      if (port.isOpen) port.close(() => undefined);
      if (this.closing) return;
      this.emit(
        'close',
        new MfaError(`${this.opts.path} went away`, ErrorCode.ModemClosed, {
          cause: err ?? undefined,
          flags: { disconnected: true },
        }),
      );
    };
    port.on('close', gone);
    port.on('error', gone);
  }

  async write(data: Buffer | string): Promise<void> {
    const port = this.port;
    if (!port?.isOpen)
      throw new MfaError(`${this.opts.path} is not open`, ErrorCode.ModemClosed, {
        flags: { disconnected: true },
      });
    await new Promise<void>((resolve, reject) => {
      port.write(data, (err) => {
        if (err)
          reject(new MfaError(`write to ${this.opts.path} failed`, ErrorCode.ModemClosed, { cause: err }));
        else port.drain(() => resolve());
      });
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const port = this.port;
    this.port = undefined;
    if (!port?.isOpen) return;
    await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}

/** The real transport: serialport on a device path (or a pty path in tests and `mfabox sim`). */
export const serialTransport: TransportFactory = (opts) => new SerialTransport(opts, ttyBinding);

/**
 * serialport's stream over another binding (the demo's in-process link to the simulator): the
 * same transport code as on the box, with `exists` telling the recovery ladder whether a path is
 * there.
 */
export function serialTransportOver(binding: Binding, exists: (path: string) => boolean): TransportFactory {
  const factory: TransportFactory = (opts) => new SerialTransport(opts, binding);
  factory.exists = exists;
  return factory;
}

/**
 * Polls until the device path exists again (USB re-enumeration takes 1–20 s; a modem that
 * modeswitched into a CD-ROM never comes back as the same path).
 * @param timeoutMs [1000...300000] ms; pollMs [50...5000] ms, default 250.
 */
export async function waitForPath(
  path: string,
  timeoutMs: number,
  pollMs = 250,
  cancelled: () => boolean = () => false,
  exists: (path: string) => boolean = existsSync,
): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    if (exists(path)) return true;
    if (performance.now() >= until || cancelled()) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * The /dev/serial/by-id name of a device such as /dev/ttyUSB2, if udev made one. ttyUSBn numbers
 * change on re-enumeration; by-id names do not, so config should hold those.
 */
export function stableNameFor(path: string, byIdDir = '/dev/serial/by-id'): string | undefined {
  if (path.startsWith(byIdDir)) return path;
  try {
    const real = realpathSync(path);
    for (const name of readdirSync(byIdDir)) {
      const link = join(byIdDir, name);
      if (realpathSync(link) === real) return link;
    }
  } catch {
    // No by-id directory (a pty, a container): nothing better to suggest.
  }
  return undefined;
}
