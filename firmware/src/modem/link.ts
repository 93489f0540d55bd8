/**
 * A modem's open port and its AT channel, with the count of commands in a row that got no answer
 * (how a hang is told from one slow reply). Everything the modem's parts run goes through here.
 */
import { ErrorCode, MfaError } from '../errors.ts';
import type { ModemConfig } from '../config/schema.ts';
import type { FramerEvent } from './at/framer.ts';
import {
  AtChannel,
  type AtCommands,
  type AtResponse,
  type ChannelTimeouts,
  type CommandOptions,
} from './channel.ts';
import type { ModemTransport, TransportFactory } from './transport.ts';

export type UrcEvent = Extract<FramerEvent, { type: 'urc' }>;

export interface LinkOptions {
  name: string;
  config: Pick<ModemConfig, 'path' | 'baudRate' | 'rtscts'>;
  transportFactory: TransportFactory;
  timeouts?: Partial<ChannelTimeouts>;
  /** ModemTimings.hangTimeouts: commands in a row with no answer that make a hang. */
  hangTimeouts: number;
  onUrc(ev: UrcEvent): void;
  /** The port went away on its own. */
  onClosed(): void;
}

export class ModemLink implements AtCommands {
  private transport: ModemTransport | undefined;
  private channel: AtChannel | undefined;
  /** Commands in a row that timed out with no answer in between (see ModemTimings.hangTimeouts). */
  unanswered = 0;

  constructor(private readonly opts: LinkOptions) {}

  /** A channel over an open port. */
  get isOpen(): boolean {
    return this.channel !== undefined && !this.channel.closed && this.transport?.isOpen === true;
  }

  get hasChannel(): boolean {
    return this.channel !== undefined;
  }

  /** The port went away (the OS closed it, or the channel saw it go). */
  get portLost(): boolean {
    return this.channel?.closed === true || !this.transport?.isOpen;
  }

  get channelClosed(): boolean {
    return this.channel?.closed === true;
  }

  /** Opens the port once and builds a fresh channel; throws when the port cannot be opened. */
  async open(): Promise<void> {
    await this.close();
    const c = this.opts.config;
    const t = this.opts.transportFactory({ path: c.path, baudRate: c.baudRate, rtscts: c.rtscts });
    await t.open();
    this.transport = t;
    const ch = new AtChannel(t, this.opts.timeouts);
    ch.on('urc', (ev: UrcEvent) => this.opts.onUrc(ev));
    ch.on('closed', () => this.opts.onClosed());
    this.channel = ch;
    this.unanswered = 0;
  }

  async close(): Promise<void> {
    const t = this.transport;
    this.channel = undefined;
    await t?.close().catch(() => undefined);
  }

  ch(): AtChannel {
    if (!this.channel) throw new MfaError('modem port not open', ErrorCode.ModemClosed);
    return this.channel;
  }

  /** The channel if there is one, for fire-and-forget commands and aborts. */
  get current(): AtChannel | undefined {
    return this.channel;
  }

  async exec(cmd: string, opts: CommandOptions = {}): Promise<AtResponse> {
    try {
      const r = await this.ch().exec(cmd, opts);
      this.unanswered = 0;
      return r;
    } catch (e) {
      if (e instanceof MfaError && e.code === ErrorCode.ModemTimeout) this.unanswered++;
      throw e;
    }
  }

  /**
   * Runs a command that may fail harmlessly (vendor init, URC switches, periodic checks). A
   * timeout is swallowed too, except when it makes `hangTimeouts` in a row: then the modem is
   * hung, and the error reaches the supervisor, which climbs the recovery ladder. Swallowing every
   * timeout left a modem that hung while idle "searching" forever, with nothing to reset it.
   */
  async tryExec(cmd: string): Promise<AtResponse | undefined> {
    try {
      const r = await this.exec(cmd);
      return r.final.ok ? r : undefined;
    } catch (e) {
      if (e instanceof MfaError && e.code === ErrorCode.ModemClosed) throw e;
      this.throwIfHung();
      return undefined;
    }
  }

  throwIfHung(): void {
    if (this.unanswered >= this.opts.hangTimeouts)
      throw new MfaError(
        `${this.opts.name} stopped answering: ${this.unanswered} commands in a row got no answer`,
        ErrorCode.ModemTimeout,
        { flags: { retryable: true } },
      );
  }

  /** AT until OK, `tries` times of `timeoutMs` each. ESC first: the modem may still sit in a CMGS prompt. */
  async probe(timeoutMs: number, tries: number): Promise<boolean> {
    const ch = this.ch();
    await ch.escape();
    for (let i = 0; i < tries; i++) {
      try {
        const r = await ch.exec('AT', { timeoutMs });
        if (r.final.ok) return true;
      } catch (e) {
        if (e instanceof MfaError && e.code === ErrorCode.ModemClosed) throw e;
      }
    }
    return false;
  }
}
