/**
 * An in-memory ModemTransport double (like serialport's MockBinding): the test plays the modem.
 * `reply` answers each CR-terminated command the driver writes; `emitData` pushes bytes at any
 * time (URCs, late finals); `written` records everything the driver wrote.
 */
import { EventEmitter } from 'node:events';
import { ErrorCode, MfaError } from '../../firmware/src/errors.ts';
import type { ModemTransport } from '../../firmware/src/modem/transport.ts';

export type Responder = (command: string, t: MemoryTransport) => void;

export class MemoryTransport extends EventEmitter implements ModemTransport {
  readonly path = 'memory';
  isOpen = false;
  written = '';
  private pendingLine = '';
  /** Raw writes that were not CR-terminated commands (payload + Ctrl-Z, ESC). */
  raw: string[] = [];

  constructor(private responder: Responder = () => undefined) {
    super();
  }

  setResponder(r: Responder): void {
    this.responder = r;
  }

  open(): Promise<void> {
    this.isOpen = true;
    return Promise.resolve();
  }

  write(data: Buffer | string): Promise<void> {
    if (!this.isOpen) return Promise.reject(new MfaError('closed', ErrorCode.ModemClosed));
    const s = typeof data === 'string' ? data : data.toString('latin1');
    this.written += s;
    this.pendingLine += s;
    for (;;) {
      // eslint-disable-next-line no-control-regex
      const cr = this.pendingLine.search(/[\r\x1a\x1b]/);
      if (cr < 0) break;
      const term = this.pendingLine[cr];
      const cmd = this.pendingLine.slice(0, cr);
      this.pendingLine = this.pendingLine.slice(cr + 1);
      const what = term === '\r' ? cmd : cmd + term;
      if (term !== '\r') this.raw.push(what);
      setImmediate(() => this.responder(what, this));
    }
    return Promise.resolve();
  }

  emitData(s: string): void {
    this.emit('data', Buffer.from(s, 'latin1'));
  }

  /** The modem vanishes (unplug). */
  unplug(): void {
    this.isOpen = false;
    this.emit('close', new MfaError('gone', ErrorCode.ModemClosed, { flags: { disconnected: true } }));
  }

  close(): Promise<void> {
    this.isOpen = false;
    return Promise.resolve();
  }
}
