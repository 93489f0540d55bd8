/**
 * startSimulator: a simulated AT modem on a real pty (made by socat), whose host side (`path`) the
 * driver, gammu or smstools open exactly like a USB modem's tty; or, with `wire: 'in-process'`, on
 * an in-process serialport binding (`transportFactory`), which needs no tool on the machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { ErrorCode, MfaError } from '../../errors.ts';
import { InProcessBinding, type DeviceLink } from '../in-process-binding.ts';
import { serialTransportOver, type TransportFactory } from '../transport.ts';
import { ModemEngine, type SimEvent, type SimEventKind } from './engine.ts';
import type { Fault } from './faults.ts';
import { HandsetInbox } from './handset.ts';
import { PROFILES, profileNames, type SimProfile } from './profiles.ts';
import { SocatPty } from './pty.ts';

export interface SimulatorOptions {
  /** A name from PROFILES; default 'generic'. */
  profile?: string;
  /**
   * 'pty' (default): a real pty pair made by socat, for gammu, smstools and the pty tests.
   * 'in-process': a serialport binding in this process (see `transportFactory`); no socat needed.
   */
  wire?: 'pty' | 'in-process';
  /** Host-side pty path; default a path in a fresh temp directory. */
  link?: string;
  /** Network time per SMS part in ms [0…600000], default 3000. */
  smsDelayMs?: number;
  /** The SIM PIN; without it the SIM has PIN checking off (unless the profile needs "1234"). */
  pin?: string;
  iccid?: string;
  imei?: string;
  /** Behaviour tweaks on top of the named profile (e.g. `{ simBusyAfterBootMs: 0 }` in tests). */
  profileOverrides?: Partial<Omit<SimProfile, 'name'>>;
  /** Keep at most this many wire events in `log` (oldest dropped), default 100000. */
  maxLogEvents?: number;
}

export interface ModemSimulator {
  /** Host-side pty path to open with serialport, gammu or smstools (a name, in-process). */
  readonly path: string;
  /** With `wire: 'in-process'`: opens `path` through serialport's stream on the in-process binding. */
  readonly transportFactory: TransportFactory | undefined;
  readonly profile: string;
  readonly inbox: HandsetInbox;
  readonly log: SimEvent[];
  /** Called for every wire event as it happens (for `mfabox sim --json` and benchmarks). */
  onEvent?: (e: SimEvent) => void;
  fault(f: Fault): void;
  /** The port disappears (socat killed, or the device detached) and reappears at the same path after `ms`; the modem power-cycles. */
  unplug(ms?: number): Promise<void>;
  /** Boot URCs, settings forgotten (echo on, PIN needed again, SIM busy for a while). */
  reboot(): void;
  /** True once a reset left no AT port (the huawei-e173-modeswitch profile after AT+CFUN=1,1). */
  readonly atPortGone: boolean;
  stop(): Promise<void>;
}

/** The simulator's end of the port: a pty, or an in-process device. */
interface SimWire {
  start(input: (d: Buffer) => void): Promise<void>;
  write(data: Buffer): void;
  stop(): Promise<void>;
}

class PtyWire implements SimWire {
  private readonly pty: SocatPty;
  private port: SerialPort | undefined;

  constructor(hostPath: string, simPath: string) {
    this.pty = new SocatPty(hostPath, simPath);
  }

  async start(input: (d: Buffer) => void): Promise<void> {
    await this.pty.start();
    const port = new SerialPort({ path: this.pty.simPath, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.on('data', input);
    // An unplug closes the port under us; nothing to do but stop feeding the engine.
    port.on('error', () => undefined);
    this.port = port;
  }

  write(data: Buffer): void {
    if (this.port?.isOpen) this.port.write(data);
  }

  async stop(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    await this.pty.stop();
  }
}

class InProcessWire implements SimWire {
  readonly binding = new InProcessBinding();
  private link: DeviceLink | undefined;

  constructor(private readonly path: string) {}

  start(input: (d: Buffer) => void): Promise<void> {
    this.link = this.binding.attach(this.path, { input });
    return Promise.resolve();
  }

  write(data: Buffer): void {
    this.link?.send(data);
  }

  stop(): Promise<void> {
    this.link = undefined;
    this.binding.detach(this.path);
    return Promise.resolve();
  }
}

class Simulator implements ModemSimulator {
  readonly inbox = new HandsetInbox();
  readonly log: SimEvent[] = [];
  onEvent?: (e: SimEvent) => void;
  readonly transportFactory: TransportFactory | undefined;
  private readonly engine: ModemEngine;
  private readonly wire: SimWire;
  private stopped = false;
  private gone = false;
  private unplugging: Promise<void> | undefined;

  constructor(
    readonly path: string,
    simSide: string,
    readonly profile: string,
    private readonly dir: string | undefined,
    opts: SimulatorOptions,
  ) {
    const named = PROFILES.get(profile);
    const p = named ? { ...named, ...opts.profileOverrides, name: named.name } : undefined;
    if (!p)
      throw new MfaError(`unknown simulator profile "${profile}"`, ErrorCode.CliUsage, { field: 'profile' });
    if (opts.wire === 'in-process') {
      const w = new InProcessWire(path);
      this.wire = w;
      this.transportFactory = serialTransportOver(w.binding, (p) => w.binding.exists(p));
    } else {
      this.wire = new PtyWire(path, simSide);
      this.transportFactory = undefined;
    }
    const maxLog = opts.maxLogEvents ?? 100_000;
    this.engine = new ModemEngine({
      profile: p,
      smsDelayMs: opts.smsDelayMs ?? 3000,
      ...(opts.pin !== undefined ? { pin: opts.pin } : {}),
      iccid: opts.iccid ?? '8901260000000000019',
      imei: opts.imei ?? '356938035643809',
      handset: this.inbox,
      write: (s) => this.write(s),
      event: (kind, detail) => this.event(kind, detail, maxLog),
      unplug: (ms) => {
        this.unplug(ms === 'forever' ? Infinity : ms).catch(() => undefined);
      },
    });
  }

  private event(kind: SimEventKind, detail: Record<string, unknown> | undefined, max: number): void {
    const e: SimEvent = {
      t: performance.timeOrigin + performance.now(),
      kind,
      ...(detail ? { detail } : {}),
    };
    this.log.push(e);
    if (this.log.length > max) this.log.splice(0, this.log.length - max);
    this.onEvent?.(e);
  }

  private write(s: string): void {
    this.wire.write(Buffer.from(s, 'latin1'));
  }

  async start(): Promise<void> {
    await this.wire.start((d) => this.engine.input(d));
    this.engine.boot();
  }

  fault(f: Fault): void {
    this.engine.fault(f);
  }

  reboot(): void {
    this.engine.reboot();
  }

  unplug(ms = 2000): Promise<void> {
    if (this.unplugging) return this.unplugging;
    this.unplugging = (async () => {
      this.engine.stop();
      this.event('unplug', { ms: Number.isFinite(ms) ? ms : 'forever' }, Infinity);
      await this.wire.stop();
      if (!Number.isFinite(ms)) {
        this.gone = true;
        return;
      }
      await new Promise((r) => setTimeout(r, ms));
      if (this.stopped) return;
      await this.wire.start((d) => this.engine.input(d));
      this.event('replug', undefined, Infinity);
      this.engine.boot('restart');
    })().finally(() => {
      this.unplugging = undefined;
    });
    return this.unplugging;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.engine.stop();
    await this.unplugging?.catch(() => undefined);
    await this.wire.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** True after a reset that left no AT port (the huawei-e173-modeswitch profile). */
  get atPortGone(): boolean {
    return this.gone;
  }
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<ModemSimulator> {
  const profile = opts.profile ?? 'generic';
  if (!PROFILES.has(profile))
    throw new MfaError(
      `unknown simulator profile "${profile}"; one of: ${profileNames().join(', ')}`,
      ErrorCode.CliUsage,
      {
        field: 'profile',
      },
    );
  if (opts.wire === 'in-process') {
    const sim = new Simulator(opts.link ?? `in-process:${profile}`, '', profile, undefined, opts);
    await sim.start();
    return sim;
  }
  const dir = mkdtempSync(join(tmpdir(), 'mfabox-sim-'));
  const hostPath = opts.link ?? join(dir, 'modem');
  const sim = new Simulator(hostPath, join(dir, 'sim-side'), profile, dir, opts);
  try {
    await sim.start();
  } catch (e) {
    await sim.stop();
    throw e;
  }
  return sim;
}
