/**
 * A serialport binding whose ports are devices in this process (the modem simulator), not ttys.
 * The driver still runs its real serial code (serialport's stream, the transport, the AT
 * channel); only the bottom of the stack is a byte queue instead of a file descriptor. The demo
 * uses it so it needs no pty tool (socat) on the machine; `mfabox sim` keeps a real pty for gammu
 * and smstools.
 *
 * Reads and writes resolve on a later tick, as real IO does, so neither side re-enters the other.
 */
// The package's ESM entry ships no types; its CommonJS one does (the same declarations).
import type {
  BindingInterface,
  BindingPortInterface,
  OpenOptions,
  PortInfo,
  PortStatus,
} from '@serialport/bindings-interface' with { 'resolution-mode': 'require' };

/** The device end of a port: what the host writes arrives here. */
export interface InProcessDevice {
  /** Bytes the host wrote (AT commands, PDUs). */
  input(data: Buffer): void;
}

/** What a device holds to talk back to the host. */
export interface DeviceLink {
  /** Bytes to the host (replies, URCs); dropped while no host has the port open. */
  send(data: Buffer): void;
}

const canceled = (): Error => Object.assign(new Error('Port is not open'), { canceled: true });
const disconnected = (path: string): Error =>
  Object.assign(new Error(`${path} went away`), { disconnect: true });
const later = (fn: () => void): void => void setImmediate(fn);

class InProcessPort implements BindingPortInterface {
  isOpen = true;
  /** The device went away: reads and writes fail as a disconnect until serialport closes the port. */
  private gone = false;
  private readonly queue: Buffer[] = [];
  private reader: { resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(
    readonly openOptions: Required<OpenOptions>,
    private readonly device: InProcessDevice,
    private readonly onClose: () => void,
  ) {}

  /** Bytes from the device. */
  push(data: Buffer): void {
    if (!this.isOpen || this.gone) return;
    this.queue.push(Buffer.from(data));
    const r = this.reader;
    this.reader = undefined;
    r?.resolve();
  }

  /** The device went away under an open port (an unplug): the stream sees a disconnect. */
  unplug(): void {
    if (!this.isOpen || this.gone) return;
    this.gone = true;
    this.onClose();
    const r = this.reader;
    this.reader = undefined;
    // Still open: serialport's stream closes the port itself on a disconnect, and emits 'close'.
    r?.reject(disconnected(this.openOptions.path));
  }

  async read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    while (this.queue.length === 0) {
      if (!this.isOpen) throw canceled();
      if (this.gone) throw disconnected(this.openOptions.path);
      await new Promise<void>((resolve, reject) => (this.reader = { resolve, reject }));
    }
    if (!this.isOpen) throw canceled();
    const head = this.queue[0] as Buffer;
    const n = Math.min(length, head.length);
    head.copy(buffer, offset, 0, n);
    if (n === head.length) this.queue.shift();
    else this.queue[0] = head.subarray(n);
    return { buffer, bytesRead: n };
  }

  write(buffer: Buffer): Promise<void> {
    if (!this.isOpen) return Promise.reject(canceled());
    if (this.gone) return Promise.reject(disconnected(this.openOptions.path));
    const data = Buffer.from(buffer);
    return new Promise((resolve) =>
      later(() => {
        if (this.isOpen && !this.gone) this.device.input(data);
        resolve();
      }),
    );
  }

  close(): Promise<void> {
    if (this.isOpen) {
      this.isOpen = false;
      if (!this.gone) this.onClose();
    }
    const r = this.reader;
    this.reader = undefined;
    r?.reject(canceled());
    return Promise.resolve();
  }

  update(): Promise<void> {
    return Promise.resolve();
  }
  set(): Promise<void> {
    return Promise.resolve();
  }
  get(): Promise<PortStatus> {
    return Promise.resolve({ cts: true, dsr: true, dcd: false });
  }
  getBaudRate(): Promise<{ baudRate: number }> {
    return Promise.resolve({ baudRate: this.openOptions.baudRate });
  }
  flush(): Promise<void> {
    this.queue.length = 0;
    return Promise.resolve();
  }
  drain(): Promise<void> {
    return new Promise((resolve) => later(resolve));
  }
}

/** A set of in-process devices, each at a path, openable through serialport like ttys. */
export class InProcessBinding implements BindingInterface<InProcessPort> {
  private readonly devices = new Map<string, { device: InProcessDevice; port?: InProcessPort }>();

  /** Puts a device at `path` (a name, not a file). */
  attach(path: string, device: InProcessDevice): DeviceLink {
    const slot: { device: InProcessDevice; port?: InProcessPort } = { device };
    this.devices.set(path, slot);
    return { send: (data) => later(() => slot.port?.push(data)) };
  }

  /** The device leaves (unplugged): an open port sees a disconnect, and opens fail until attached again. */
  detach(path: string): void {
    const slot = this.devices.get(path);
    this.devices.delete(path);
    slot?.port?.unplug();
  }

  exists(path: string): boolean {
    return this.devices.has(path);
  }

  list(): Promise<PortInfo[]> {
    return Promise.resolve(
      [...this.devices.keys()].map((path) => ({
        path,
        manufacturer: 'MFA Box',
        serialNumber: undefined,
        pnpId: undefined,
        locationId: undefined,
        productId: undefined,
        vendorId: undefined,
      })),
    );
  }

  open(options: OpenOptions): Promise<InProcessPort> {
    const slot = this.devices.get(options.path);
    if (!slot)
      return Promise.reject(new Error(`Error: No such file or directory, cannot open ${options.path}`));
    if (slot.port?.isOpen)
      return Promise.reject(new Error(`Error Resource temporarily unavailable Cannot lock port`));
    const opts: Required<OpenOptions> = {
      dataBits: 8,
      lock: true,
      stopBits: 1,
      parity: 'none',
      rtscts: false,
      xon: false,
      xoff: false,
      xany: false,
      hupcl: true,
      ...options,
    };
    const port: InProcessPort = new InProcessPort(opts, slot.device, () => {
      if (slot.port === port) delete slot.port;
    });
    slot.port = port;
    return Promise.resolve(port);
  }
}
