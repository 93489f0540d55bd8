/**
 * One modem: open → init → SIM/PIN → registered → ready, kept there by a supervisor loop and a
 * recovery ladder, with health as events.
 *
 * Where retries live: a Modem makes ONE attempt per part and reports a classified MfaError; the
 * pool decides on retries, because only the pool can move a retry to another modem, knows the
 * per-SIM rate budget and the message deadline. The one thing a modem waits out by itself is
 * SIM busy (CME 14) during init, with a short backoff.
 *
 * Recovery ladder when the modem stops answering: AT probe → ESC (leave a stuck prompt) →
 * reopen the port → AT+CFUN=1,1 → wait for USB re-enumeration. A boot URC (RDY, SMS Ready,
 * ^SYSSTART…) seen mid-run means the modem reset: the command in flight fails and init reruns.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Clock } from '../clock.ts';
import type { ModemConfig } from '../config/schema.ts';
import { ErrorCode, MfaError, describeError } from '../errors.ts';
import { logger } from '../log.ts';
import type { Store, Table } from '../store/store.ts';
import { AtChannel, type AtResponse, type ChannelTimeouts } from './at/channel.ts';
import {
  classifyFinal,
  isSimBusy,
  refusedBeforeAcceptance,
  smsErrorCode,
  type AtErrorClass,
  type ClassifiedError,
} from './at/errors.ts';
import type { FramerEvent } from './at/framer.ts';
import {
  identityValue,
  isRegistered,
  isRoaming,
  parseCmgs,
  parseCops,
  parseCpin,
  parseCsca,
  parseCsq,
  parseIccid,
  parseReg,
  parseTextCds,
  parseTriesLeft,
  type Registration,
} from './at/replies.ts';
import { decodeStatusReport, encodeSubmit, encodeTextModeBody, secondsToVp } from './pdu/index.ts';
import { profileByName, selectProfile, type ModemProfile } from './profiles.ts';
import { serialTransport, waitForPath, type ModemTransport, type TransportFactory } from './transport.ts';
import type { ModemHealth, ModemState, SmsSendOptions } from './types.ts';

/** Supervisor timings, all ms. */
export interface ModemTimings {
  /** [200...10000] ms, default 1500: one AT probe. */
  probe: number;
  /** [1...20], default 5: AT probes before a rung of the ladder is declared failed. */
  probeTries: number;
  /**
   * [2...20], default 3: commands in a row that get no answer before the modem counts as hung
   * and the recovery ladder starts. One slow reply is not a hang: any answer resets the count.
   */
  hangTimeouts: number;
  /** [1000...120000] ms, default 30000: longest wait for SIM busy (CME 14) to clear. */
  simBusyMax: number;
  /** [1000...60000] ms, default 2000: registration poll while searching. */
  pollSearching: number;
  /** [5000...600000] ms, default 30000: registration and signal poll while registered. */
  pollRegistered: number;
  /** [5000...300000] ms, default 60000: wait for the port to come back after a reset or unplug. */
  reenumerate: number;
  /** [100...10000] ms, default 1000: gap between reopen attempts while the port is absent. */
  reopenPoll: number;
  /** [60000...3600000] ms, default 600000: how long a modem stays "SMS refused" before a retry. */
  smsRefusedHold: number;
}

export const DEFAULT_TIMINGS: ModemTimings = {
  probe: 1500,
  probeTries: 5,
  hangTimeouts: 3,
  simBusyMax: 30000,
  pollSearching: 2000,
  pollRegistered: 30000,
  reenumerate: 60000,
  reopenPoll: 1000,
  smsRefusedHold: 600000,
};

export interface ModemOptions {
  config: ModemConfig;
  store: Store;
  clock: Clock;
  transportFactory?: TransportFactory;
  timeouts?: Partial<ChannelTimeouts>;
  timings?: Partial<ModemTimings>;
  /**
   * A secret kept outside the store (the appliance passes its device key): the rejected-PIN
   * marker is an HMAC with it, so a copy of the database does not give the PIN away (a salted
   * hash of a 4–8 digit PIN falls to brute force in seconds).
   */
  pinKey?: Buffer;
}

export interface StopOptions {
  /**
   * [0...300000] ms, default the channel's send timeout (90000): how long stop() waits for a send
   * already past Ctrl-Z to get its final before closing the port anyway.
   */
  drainMs?: number;
}

/** Progress of one message across attempts, so a retry never resends a part that went out. */
export interface SendProgress {
  refs: number[];
  beforeSubmitDone: boolean;
  /**
   * The message deadline on the monotonic clock, fixed once when the send begins: a Pi has no
   * battery clock and NTP steps the wall clock at boot, so no later check may use wall time.
   */
  deadlineMono?: number;
}

/** Converts the wall-clock deadline to monotonic time, once per message. */
export function monotonicDeadline(clock: Clock, wallDeadline: number): number {
  return clock.monotonic() + (wallDeadline - clock.now());
}

interface PinRejection {
  /**
   * `h1:` + HMAC-SHA256(pinKey, salt:pin), or (written before the key, or without one)
   * sha256(salt:pin): tells whether the configured PIN changed since, without storing it.
   */
  hash: string;
  salt: string;
  at: number;
  triesLeft?: number;
  /**
   * Only on an unclear-entry marker (`pin-unclear:` key): why the entry failed. Stored because a
   * SIM that cannot report its tries left would otherwise get one more entry per service start.
   */
  reason?: string;
  /** Only on an unclear-entry marker: the tries left just before that entry, when the SIM said. */
  triesBefore?: number;
}

const GENERIC_BOOT_URCS = ['RDY', 'SMS Ready', '^SYSSTART', '+SYSSTART', 'SMS DONE'];
const HARD_RESET_URCS = new Set(['RDY', '^SYSSTART', '+SYSSTART', '+CFUN', '^BOOT']);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface ProbeReport {
  identity: NonNullable<ModemHealth['identity']>;
  profile: string;
  sim: string;
  registration: string;
  operator?: string;
  dbm?: number;
  bars?: number;
  smsc?: string;
  textMode: boolean;
}

/**
 * Emits 'health' (ModemHealth) on every change and 'status-report' ({ modem, messageReference,
 * delivered, outcome }) for +CDS reports.
 */
export class Modem extends EventEmitter {
  readonly name: string;
  private readonly cfg: ModemConfig;
  private readonly timings: ModemTimings;
  private readonly log;
  private readonly table: Table<PinRejection>;
  private transport: ModemTransport | undefined;
  private channel: AtChannel | undefined;
  private profile: ModemProfile | undefined;
  private textMode = false;
  private state: ModemState = 'absent';
  private detail: string | undefined;
  private identity: NonNullable<ModemHealth['identity']> = {};
  private signal: { dbm?: number; bars?: number } = {};
  private operator: string | undefined;
  private roaming: boolean | undefined;
  private lteOnly = false;
  private smsc: string | undefined;
  private sentCount = 0;
  private failedCount = 0;
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private reinitNeeded = false;
  private troubled = false;
  /** Commands in a row that timed out with no answer in between (see ModemTimings.hangTimeouts). */
  private unanswered = 0;
  private smsRefusedUntil = 0;
  private sendsInFlight = 0;
  /** Set after a reset when the port did not come back: the E173 modeswitch trap. */
  private noAtPort = false;
  /** Full ladders climbed without the modem coming back: backs off so a dead modem is not reset every few seconds. */
  private ladderFailures = 0;
  /**
   * Ladder climbs for a hang (a timeout) since init last ran through that ended on a low rung
   * (the AT probe or a reopen) because AT answered. A modem that answers AT but hangs on
   * everything else would otherwise be "recovered" by the probe for ever and never reset: after
   * one probe and one reopen that did not last, the ladder goes on to AT+CFUN=1,1.
   */
  private shallowRecoveries = 0;
  private lastBootUrcAt = -Infinity;
  private cnmaRequired = false;
  private smscMissing = false;
  /** Set when the modem has no SMS mode at all; cleared on the next init. */
  private smsImpossible = false;
  private lastHangupAt = -Infinity;
  private textChain: Promise<unknown> = Promise.resolve();
  /**
   * The last PIN entry that failed without the SIM rejecting it (also stored, see noteUnclear):
   * the next try checks whether the SIM counted it after all, and a SIM that cannot tell its tries
   * left is not given a second one until the PIN setting changes.
   */
  private unclearPin:
    | {
        key: string;
        salt: string;
        hash: string;
        reason: string;
        triesBefore?: number;
        /** Unclear failures in a row, and when the next entry may be made (performance.now()). */
        attempts: number;
        retryAt: number;
      }
    | undefined;
  /** AT+CMMS=2 support: undefined until tried. */
  private cmms: boolean | undefined;

  constructor(private readonly opts: ModemOptions) {
    super();
    this.cfg = opts.config;
    this.name = opts.config.name;
    this.timings = { ...DEFAULT_TIMINGS, ...opts.timings };
    this.log = logger('modem').child({ modem: this.name });
    this.table = opts.store.table<PinRejection>('modem-state');
  }

  health(): ModemHealth {
    const h: ModemHealth = {
      name: this.name,
      state: this.state,
      sentCount: this.sentCount,
      failedCount: this.failedCount,
      identity: { ...this.identity },
    };
    if (this.detail !== undefined) h.detail = this.detail;
    if (this.state === 'registered' || this.state === 'sending' || this.state === 'sms-refused') {
      if (this.signal.bars !== undefined) h.bars = this.signal.bars;
      if (this.signal.dbm !== undefined) h.dbm = this.signal.dbm;
      if (this.operator !== undefined) h.operator = this.operator;
      if (this.roaming !== undefined) h.roaming = this.roaming;
    }
    return h;
  }

  /**
   * Registered and able to take a send now. Exactly the states health counts as able to send
   * ('registered', 'sending'): an 'sms-refused' modem whose hold has passed goes back to
   * 'registered' first (the monitor wakes for it), so health and sending never disagree.
   */
  canSend(): boolean {
    return (
      (this.state === 'registered' || this.state === 'sending') &&
      !this.stopped &&
      !this.troubled &&
      !this.reinitNeeded
    );
  }

  get busy(): boolean {
    return this.sendsInFlight > 0;
  }

  private setState(state: ModemState, detail?: string): void {
    if (state === this.state && detail === this.detail) return;
    this.state = state;
    this.detail = detail;
    this.log.info({ state, detail }, 'modem state');
    this.emit('health', this.health());
  }

  /** Starts the supervisor loop in the background; resolves at once. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.supervise();
  }

  /**
   * Graceful stop. New sends are refused at once and a send not yet past the `> ` prompt is
   * abandoned with ESC (nothing went out: the caller may resend it later). A send already past
   * Ctrl-Z is waited for until its final arrives, at most `drainMs` (default: the send timeout,
   * 90 s), because aborting it would leave its outcome unknown and the outbox would resend it: a
   * duplicate SMS on every restart that lands mid-send. Then the port is closed.
   */
  async stop(opts: StopOptions = {}): Promise<void> {
    this.stopped = true;
    this.wake?.();
    const err = new MfaError(`${this.name} stopping`, ErrorCode.ModemClosed, { flags: { canceled: true } });
    const ch = this.channel;
    if (ch && !ch.closed) {
      const limit = opts.drainMs ?? ch.timeouts.send;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        ch.quiesce(err),
        new Promise<void>((r) => {
          timer = setTimeout(r, limit);
        }),
      ]);
      clearTimeout(timer);
    }
    // Past drainMs: whatever is still waiting fails now (outcomeUnknown if it was past Ctrl-Z).
    ch?.abortInFlight(err);
    await this.transport?.close();
    await this.loop;
  }

  /** Resolves when the modem can send, or rejects after timeoutMs. */
  async whenReady(timeoutMs: number): Promise<void> {
    const until = performance.now() + timeoutMs;
    while (!this.canSend()) {
      if (performance.now() > until) throw this.notReady();
      await sleep(25);
    }
  }

  /** Why the modem cannot send, as the most specific code (the CLI exits with its message). */
  notReady(): MfaError {
    const code =
      this.state === 'no-sim'
        ? ErrorCode.ModemSimMissing
        : this.state === 'pin-needed' || this.state === 'pin-rejected'
          ? ErrorCode.ModemSimPinRejected
          : this.state === 'searching' || this.state === 'sms-refused'
            ? ErrorCode.ModemNoNetwork
            : this.state === 'absent'
              ? ErrorCode.ModemPortUnavailable
              : this.smsImpossible
                ? ErrorCode.ModemCommandFailed
                : this.detail?.includes('SIM busy')
                  ? ErrorCode.ModemBusy
                  : ErrorCode.ModemNotReady;
    return new MfaError(
      `${this.name} not ready: ${this.state}${this.detail ? ` (${this.detail})` : ''}`,
      code,
    );
  }

  // ───────────────────────── supervisor ─────────────────────────

  private async supervise(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.connect();
        await this.initialise();
        await this.monitor();
      } catch (e) {
        if (this.stopped) break;
        this.log.warn({ err: describeError(e) }, 'modem trouble');
        await this.recover(e);
        if (this.troubled) {
          this.ladderFailures++;
          await this.nap(Math.min(300000, this.timings.reopenPoll * 2 ** Math.min(8, this.ladderFailures)));
        }
      }
    }
  }

  /** Waits for the path, opens it and builds a fresh channel. */
  private async connect(once = false): Promise<void> {
    if (this.channel && !this.channel.closed && this.transport?.isOpen) return;
    await this.transport?.close().catch(() => undefined);
    this.channel = undefined;
    for (;;) {
      if (this.stopped) throw new MfaError('stopped', ErrorCode.ModemClosed);
      try {
        const t = (this.opts.transportFactory ?? serialTransport)({
          path: this.cfg.path,
          baudRate: this.cfg.baudRate,
          rtscts: this.cfg.rtscts,
        });
        await t.open();
        this.transport = t;
        break;
      } catch (e) {
        // One-shot commands report a missing port at once instead of waiting for it.
        if (once) throw e;
        this.setState(
          'absent',
          this.noAtPort ? 'no AT port after reset (modeswitch?)' : `port ${this.cfg.path} not found`,
        );
        this.log.debug({ err: describeError(e) }, 'open failed');
        await this.nap(this.timings.reopenPoll);
      }
    }
    const ch = new AtChannel(this.transport, this.opts.timeouts);
    ch.on('urc', (ev: Extract<FramerEvent, { type: 'urc' }>) => this.onUrc(ev));
    ch.on('closed', () => {
      this.troubled = true;
      this.wake?.();
    });
    this.channel = ch;
    this.unanswered = 0;
    this.noAtPort = false;
  }

  private ch(): AtChannel {
    if (!this.channel) throw new MfaError('modem port not open', ErrorCode.ModemClosed);
    return this.channel;
  }

  private async nap(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }

  private onUrc(ev: Extract<FramerEvent, { type: 'urc' }>): void {
    const boot = this.profile?.bootUrcs ?? GENERIC_BOOT_URCS;
    const isBoot =
      boot.includes(ev.name) && !(ev.name === '^BOOT' && this.profile?.quirks.periodicBootUrc === true);
    // One restart announces itself several times (RDY, +CFUN: 1, Call Ready, SMS Ready over ~10 s).
    const sameBoot = performance.now() - this.lastBootUrcAt < 10000;
    if (isBoot) this.lastBootUrcAt = performance.now();
    if (isBoot && !sameBoot && this.state !== 'initialising' && this.state !== 'absent') {
      this.log.warn({ urc: ev.name }, 'modem restarted on its own: re-initialising');
      this.reinitNeeded = true;
      // RDY / ^SYSSTART / +CFUN: 1 are sent only at power-up: the reply in flight will never come.
      // Readiness URCs (SMS Ready, SMS DONE) can also follow a boot that happened before the port
      // was opened, so they schedule a re-init without failing a send that may be going fine.
      if (HARD_RESET_URCS.has(ev.name))
        this.channel?.abortInFlight(
          // canceled: the restart explains the failure, so the send path does not climb the ladder.
          new MfaError(`${this.name} restarted (${ev.name})`, ErrorCode.ModemClosed, {
            flags: { canceled: true },
          }),
        );
      this.wake?.();
      return;
    }
    if (ev.name === '+CDS') {
      this.statusReport(ev.data ?? ev.line);
      // With +CSMS=1 (or on modems that insist) a routed report must be acknowledged, or the
      // network stops sending them.
      if (this.cnmaRequired) void this.channel?.exec('AT+CNMA').catch(() => undefined);
      return;
    }
    if (ev.name === '+CDSI') {
      // ds=2 (Qualcomm): the report was stored; read it, then delete it so storage never fills.
      const idx = /,\s*(\d+)\s*$/.exec(ev.line)?.[1];
      if (idx !== undefined) void this.readStoredReport(Number(idx));
      return;
    }
    if (ev.name === 'RING' || ev.name === '+CRING') {
      // Nobody answers the box: reject the call so a caller does not ring on and tie up a 2G radio.
      if (performance.now() - this.lastHangupAt > 5000) {
        this.lastHangupAt = performance.now();
        void this.channel?.exec('ATH').catch(() => undefined);
      }
      return;
    }
    if (ev.name === '+CREG' || ev.name === '+CEREG' || ev.name === '+CGREG') this.wake?.();
  }

  private statusReport(data: string): void {
    try {
      const text = parseTextCds(data);
      const r = text ?? decodeStatusReport(data, { hasSmsc: true });
      this.emit('status-report', {
        modem: this.name,
        messageReference: r.messageReference,
        delivered: r.outcome === 'delivered',
        outcome: r.outcome,
      });
    } catch (e) {
      this.log.warn({ err: describeError(e) }, 'undecodable status report');
    }
  }

  private async readStoredReport(index: number): Promise<void> {
    try {
      const r = await this.exec(`AT+CMGR=${index}`);
      const pdu = r.final.ok ? r.lines.find((l) => /^[0-9A-F]{20,}$/i.test(l)) : undefined;
      if (pdu) this.statusReport(pdu);
      await this.exec(`AT+CMGD=${index}`);
    } catch {
      /* a report is a nicety; never disturb sending for it */
    }
  }

  private async exec(cmd: string, opts: Parameters<AtChannel['exec']>[1] = {}): Promise<AtResponse> {
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
  private async tryExec(cmd: string): Promise<AtResponse | undefined> {
    try {
      const r = await this.exec(cmd);
      return r.final.ok ? r : undefined;
    } catch (e) {
      if (e instanceof MfaError && e.code === ErrorCode.ModemClosed) throw e;
      this.throwIfHung();
      return undefined;
    }
  }

  private throwIfHung(): void {
    if (this.unanswered >= this.timings.hangTimeouts)
      throw new MfaError(
        `${this.name} stopped answering: ${this.unanswered} commands in a row got no answer`,
        ErrorCode.ModemTimeout,
        { flags: { retryable: true } },
      );
  }

  /** AT until OK, probeTries times. ESC first: the modem may still sit in a CMGS prompt. */
  private async probe(): Promise<boolean> {
    const ch = this.ch();
    await ch.escape();
    for (let i = 0; i < this.timings.probeTries; i++) {
      try {
        const r = await ch.exec('AT', { timeoutMs: this.timings.probe });
        if (r.final.ok) return true;
      } catch (e) {
        if (e instanceof MfaError && e.code === ErrorCode.ModemClosed) throw e;
      }
    }
    return false;
  }

  private async initialise(): Promise<void> {
    this.reinitNeeded = false;
    this.troubled = false;
    this.unanswered = 0;
    this.smsImpossible = false;
    // A periodic re-check of a locked or missing SIM should not make the LEDs flicker.
    if (this.state !== 'no-sim' && this.state !== 'pin-needed' && this.state !== 'pin-rejected')
      this.setState('initialising');
    if (!(await this.probe()))
      throw new MfaError(`${this.name} does not answer AT`, ErrorCode.ModemTimeout, {
        flags: { retryable: true },
      });
    await this.tryExec('ATE0');
    await this.tryExec('ATV1');
    if (!(await this.tryExec('AT+CMEE=1'))) await this.tryExec('AT+CMEE=2');
    await this.identify();
    for (const c of this.profile?.init ?? []) await this.tryExec(c);
    if (!(await this.unlockSim())) return this.initRanThrough();
    for (const c of this.profile?.disableUrcs ?? []) await this.tryExec(c);
    await this.readIccid();
    await this.configureSms();
    await this.checkRegistration();
    this.initRanThrough();
  }

  /** Init got as far as it can without a hang: whatever the ladder did has worked. */
  private initRanThrough(): void {
    this.ladderFailures = 0;
    this.shallowRecoveries = 0;
  }

  private async identify(): Promise<void> {
    const ati = (await this.tryExec('ATI'))?.lines.join(' ');
    const manufacturer = identityValue((await this.tryExec('AT+CGMI'))?.lines ?? []);
    const model = identityValue((await this.tryExec('AT+CGMM'))?.lines ?? []);
    const revision = identityValue((await this.tryExec('AT+CGMR'))?.lines ?? []);
    const imei = identityValue((await this.tryExec('AT+CGSN'))?.lines ?? []);
    const gcap = (await this.tryExec('AT+GCAP'))?.lines.join(' ');
    this.identity = {
      ...(manufacturer ? { manufacturer } : {}),
      ...(model ? { model } : {}),
      ...(revision ? { revision } : {}),
      ...(imei ? { imei } : {}),
      // No ICCID carried over: the SIM may have been swapped while the modem was away.
    };
    this.profile =
      this.cfg.profile === 'auto'
        ? selectProfile({ ati, manufacturer, model, gcap })
        : profileByName(this.cfg.profile);
    this.log.info({ profile: this.profile.name, manufacturer, model, revision }, 'modem identified');
  }

  private async readIccid(): Promise<string | undefined> {
    if (this.identity.iccid) return this.identity.iccid;
    for (const c of [...(this.profile?.iccid ?? []), 'AT+CCID']) {
      const r = await this.tryExec(c);
      const iccid = r ? parseIccid(r.lines) : undefined;
      if (iccid) {
        this.identity = { ...this.identity, iccid };
        return iccid;
      }
    }
    return undefined;
  }

  /** +CPIN? with SIM-busy wait; PIN entry with the never-spend-the-last-try rule. */
  private async unlockSim(): Promise<boolean> {
    // The ICCID is readable before the PIN on most modems; health shows which SIM is locked.
    await this.readIccid();
    const status = await this.cpin();
    if (status === 'ready') return true;
    if (status === 'absent') {
      this.setState('no-sim', 'no SIM card (or SIM failure)');
      return false;
    }
    if (status === 'puk') {
      this.setState('pin-rejected', 'SIM is locked and needs its PUK; not touched');
      return false;
    }
    if (status !== 'pin') {
      this.setState('pin-needed', `SIM wants ${status}; not handled automatically`);
      return false;
    }
    const pin = this.cfg.pin;
    const iccid = await this.readIccid();
    const simId = iccid ?? `imei:${this.identity.imei ?? this.cfg.path}`;
    const key = `pin-rejected:${simId}`;
    const unclearKey = `pin-unclear:${simId}`;
    if (pin === undefined) {
      // Clearing the setting is how an admin whose PIN was right anyway allows a new entry.
      this.unclearPin = undefined;
      if (await this.table.get(unclearKey)) await this.table.del(unclearKey).catch(() => undefined);
      this.setState('pin-needed', 'SIM needs a PIN: set it in the modem settings');
      return false;
    }
    const earlier = await this.table.get(key);
    if (earlier && this.samePin(earlier, pin)) {
      this.setState(
        'pin-rejected',
        `PIN rejected earlier for this SIM${earlier.triesLeft === undefined ? '' : ` (${earlier.triesLeft} ${earlier.triesLeft === 1 ? 'try' : 'tries'} left)`}; not retried until the PIN setting changes`,
      );
      return false;
    }
    const tries = await this.triesLeft();
    // An earlier entry whose outcome was unclear (a timeout, say): if the SIM counted it, the PIN
    // was wrong, and is now known to be. Stored too: a SIM that cannot tell its tries left must not
    // get one entry per service start.
    const stored = this.unclearPin?.key === key ? undefined : await this.table.get(unclearKey);
    const remembered =
      this.unclearPin?.key === key
        ? this.unclearPin
        : stored
          ? {
              key,
              salt: stored.salt,
              hash: stored.hash,
              reason: stored.reason ?? 'no answer',
              ...(stored.triesBefore === undefined ? {} : { triesBefore: stored.triesBefore }),
              attempts: 1,
              retryAt: 0,
            }
          : undefined;
    const unclear = remembered && this.samePin(remembered, pin) ? remembered : undefined;
    this.unclearPin = undefined;
    if (unclear?.triesBefore !== undefined && tries !== undefined && tries < unclear.triesBefore)
      return this.rejectPin(key, pin, tries, 'the SIM counted an earlier unanswered entry');
    if (tries !== undefined && tries <= 1) {
      this.setState(
        'pin-rejected',
        `${tries} PIN ${tries === 1 ? 'try' : 'tries'} left: not spent automatically; unlock the SIM in a phone`,
      );
      return false;
    }
    if (unclear && (tries === undefined || unclear.triesBefore === undefined)) {
      // It failed before without saying why, and the SIM cannot tell whether that cost a try:
      // one entry per PIN setting is all that is risked, restarts included.
      this.setState('pin-needed', unclearDetail(unclear.reason, undefined));
      this.unclearPin = unclear;
      return false;
    }
    if (unclear && performance.now() < unclear.retryAt) {
      // Free to retry, but a modem that always refuses the entry is not asked every 30 s for ever.
      this.setState('pin-needed', unclearDetail(unclear.reason, unclear.triesBefore));
      this.unclearPin = unclear;
      return false;
    }
    this.log.info({ triesLeft: tries }, 'entering SIM PIN');
    // Noted (durably) before the entry: a crash or power cut while it is on the wire is unclear too.
    const attempts = (unclear?.attempts ?? 0) + 1;
    await this.noteUnclear(unclearKey, {
      ...this.pendingUnclear(key, pin, 'interrupted', attempts),
      ...(tries === undefined ? {} : { triesBefore: tries }),
    });
    let r: AtResponse | undefined;
    for (let busy = 0; ; busy++) {
      try {
        r = await this.exec(`AT+CPIN="${pin}"`, { secret: true, class: 'slow' });
      } catch (e) {
        if (!(e instanceof MfaError) || e.code !== ErrorCode.ModemTimeout) throw e;
        r = undefined;
      }
      if (r?.final.ok) return this.pinAccepted(key, unclearKey);
      const c = r && !r.final.ok ? classifyFinal(r.final) : undefined;
      // SIM busy or still initialising (CME 14, 515): the SIM should not have looked at the PIN.
      // Wait it out, but a firmware that counts the entry anyway must not get four in a row: the
      // tries left are read before every re-entry, and an unknown count is not gambled on.
      if (!c || !(isSimBusy(c) || c.code === 515) || busy >= 3) break;
      if ((await this.cpin()) !== 'pin') break;
      const now = await this.triesLeft();
      if (now === undefined || now <= 1 || (tries !== undefined && now < tries)) break;
    }
    const c = r && !r.final.ok ? classifyFinal(r.final) : undefined;
    const reason = c?.reason ?? 'no answer';
    // Noted before the checks below, which may time out on a modem that hung at the PIN.
    const pending = this.pendingUnclear(key, pin, reason, attempts);
    await this.noteUnclear(unclearKey, tries === undefined ? pending : { ...pending, triesBefore: tries });
    // Only the SIM's own word counts as a rejection: CME 16 "incorrect password", a tries-left
    // count that dropped, or a SIM that now wants its PUK. Anything else (plain ERROR, CME 3,
    // "not ready", a timeout) may be the modem, not the PIN, and storing it would lock out a
    // good PIN until someone edits the setting.
    const after = await this.triesLeft();
    if (c?.family === 'cme' && c.code === 16) return this.rejectPin(key, pin, after);
    const now = await this.cpin();
    if (now === 'ready') return this.pinAccepted(key, unclearKey);
    if (now === 'puk') return this.rejectPin(key, pin, 0, 'the SIM now needs its PUK');
    if (tries !== undefined && after !== undefined && after < tries) return this.rejectPin(key, pin, after);
    const known = tries !== undefined && after !== undefined;
    if (known) await this.noteUnclear(unclearKey, { ...pending, triesBefore: after });
    this.log.warn({ reason, triesLeft: after }, 'PIN entry failed without the SIM rejecting the PIN');
    this.setState('pin-needed', unclearDetail(reason, known ? after : undefined));
    return false;
  }

  private pendingUnclear(
    key: string,
    pin: string,
    reason: string,
    attempts: number,
  ): NonNullable<Modem['unclearPin']> {
    const salt = randomBytes(8).toString('hex');
    // 1, 2, 4… polls between entries that cost nothing, at most an hour.
    const retryAt =
      performance.now() + Math.min(3_600_000, this.timings.pollRegistered * 2 ** Math.min(10, attempts - 1));
    return { key, salt, hash: this.pinDigest(salt, pin), reason, attempts, retryAt };
  }

  /** Keeps an unclear entry in memory and in the store (a keyed hash of the PIN, never the PIN). */
  private async noteUnclear(unclearKey: string, u: NonNullable<Modem['unclearPin']>): Promise<void> {
    this.unclearPin = u;
    await this.table.put(unclearKey, {
      hash: u.hash,
      salt: u.salt,
      at: this.opts.clock.now(),
      reason: u.reason,
      ...(u.triesBefore === undefined ? {} : { triesBefore: u.triesBefore }),
    });
  }

  private async pinAccepted(key: string, unclearKey: string): Promise<boolean> {
    this.unclearPin = undefined;
    await this.table.del(key).catch(() => undefined);
    await this.table.del(unclearKey).catch(() => undefined);
    return (await this.cpin()) === 'ready' || this.fail('SIM not ready after PIN');
  }

  private pinDigest(salt: string, pin: string): string {
    const k = this.opts.pinKey;
    return k
      ? `h1:${createHmac('sha256', k).update(`${salt}:${pin}`).digest('hex')}`
      : legacyPinHash(salt, pin);
  }

  /** Whether a stored marker is for this PIN. One written with a key this process lacks counts as the same PIN: never spend a try on a guess. */
  private samePin(rec: { hash: string; salt: string }, pin: string): boolean {
    if (!rec.hash.startsWith('h1:')) return rec.hash === legacyPinHash(rec.salt, pin);
    if (!this.opts.pinKey) return true;
    const want = Buffer.from(rec.hash);
    const got = Buffer.from(this.pinDigest(rec.salt, pin));
    return want.length === got.length && timingSafeEqual(want, got);
  }

  /** Persists the rejection (a keyed hash of the PIN, never the PIN) so no restart tries it again. */
  private async rejectPin(key: string, pin: string, left: number | undefined, why?: string): Promise<false> {
    const salt = randomBytes(8).toString('hex');
    this.unclearPin = undefined;
    await this.table.put(key, {
      hash: this.pinDigest(salt, pin),
      salt,
      at: this.opts.clock.now(),
      ...(left === undefined ? {} : { triesLeft: left }),
    });
    // After the rejection is durable, so a crash in between still leaves a marker.
    await this.table.del(key.replace(/^pin-rejected:/, 'pin-unclear:')).catch(() => undefined);
    this.setState(
      'pin-rejected',
      `PIN rejected${left === undefined ? '' : ` (${left} ${left === 1 ? 'try' : 'tries'} left)`}${why ? `: ${why}` : ''}; not retried`,
    );
    return false;
  }

  private fail(detail: string): false {
    this.setState('failed', detail);
    return false;
  }

  /** Reads +CPIN?, waiting out SIM busy (CME 14) with 100 ms → 500 ms backoff, never a fixed sleep. */
  // 'ready' | 'pin' | 'puk' | 'absent', or the modem's words for anything else.
  private async cpin(): Promise<string> {
    const until = performance.now() + this.timings.simBusyMax;
    let backoff = 100;
    for (;;) {
      const r = await this.exec('AT+CPIN?', { finalOptionalAfter: '+CPIN:' });
      if (r.final.ok) {
        const s = parseCpin(r.lines);
        if (s?.kind === 'ready' || s?.kind === 'pin' || s?.kind === 'puk' || s?.kind === 'absent')
          return s.kind;
        if (s?.kind === 'other-lock') return s.what;
        if (s?.kind === 'unknown' && s.text.includes('NOT READY')) {
          /* fall through to wait */
        } else return s?.kind === 'unknown' ? s.text : 'unreadable';
      } else {
        const c = classifyFinal(r.final);
        if (c.code === 10 || c.code === 13 || c.code === 310 || c.code === 313) return 'absent';
        if (c.code === 11) return 'pin';
        if (c.code === 12) return 'puk';
        if (!isSimBusy(c) && c.code !== 515) return c.reason;
      }
      if (performance.now() > until) return 'busy for too long';
      this.setState('initialising', 'SIM busy, waiting');
      await sleep(backoff);
      backoff = Math.min(500, backoff * 2);
    }
  }

  private async triesLeft(): Promise<number | undefined> {
    const t = this.profile?.triesLeft;
    const cmds = t ? [t] : [];
    if (t?.command !== 'AT+CPINR="SIM PIN"')
      cmds.push({ command: 'AT+CPINR="SIM PIN"', pattern: '^\\+CPINR: ?"?SIM PIN"?,(\\d+)' });
    for (const c of cmds) {
      const r = await this.tryExec(c.command);
      const n = r ? parseTriesLeft(r.lines, c.pattern) : undefined;
      if (n !== undefined) return n;
    }
    return undefined;
  }

  private async configureSms(): Promise<void> {
    const p = this.profile;
    this.textMode = p?.quirks.textModeOnly ?? false;
    if (!this.textMode && !(await this.smsMode(0))) {
      this.log.warn('PDU mode refused: falling back to text mode');
      this.textMode = true;
    }
    if (this.textMode && !(await this.smsMode(1))) {
      this.setState('failed', 'the modem refuses both PDU and text mode (AT+CMGF): it cannot send SMS');
      this.smsImpossible = true;
    }
    const csca = await this.tryExec('AT+CSCA?');
    this.smsc = parseCsca(csca?.lines ?? []);
    // The PDUs carry no SMSC (the "00" octet): an empty +CSCA means every send fails with CMS 330.
    this.smscMissing = csca !== undefined && this.smsc === undefined;
    const csms = /^\+CSMS:\s*(\d)/.exec((await this.tryExec('AT+CSMS?'))?.lines[0] ?? '')?.[1];
    this.cnmaRequired = (p?.quirks.needsCnma ?? false) || csms === '1';
    for (const cnmi of p?.quirks.cnmiFallbacks ?? ['2,1,0,1,0', '2,1,0,2,0', '2,1,0,0,0']) {
      if (await this.tryExec(`AT+CNMI=${cnmi}`)) break;
    }
  }

  /**
   * AT+CMGF=<mode> (0 PDU, 1 text). True when the modem took it, false when it definitely lacks
   * that mode (PDU → text mode is used; text → the modem cannot send). Anything in between (SIM
   * busy, CMS 314 while the SIM's SMS side loads after boot, CME 14/515, a timeout, an unknown
   * error) is waited out with a short backoff: falling back on a transient error left a PDU modem
   * in text mode until the next restart. When it never settles, init fails and the supervisor
   * runs it again.
   */
  private async smsMode(mode: 0 | 1): Promise<boolean> {
    const until = performance.now() + this.timings.simBusyMax;
    let backoff = 100;
    for (;;) {
      let reason: string;
      try {
        const r = await this.exec(`AT+CMGF=${mode}`);
        if (r.final.ok) return true;
        const c = classifyFinal(r.final);
        if (definitelyUnsupported(c)) return false;
        reason = c.reason;
      } catch (e) {
        if (!(e instanceof MfaError) || e.code !== ErrorCode.ModemTimeout) throw e;
        this.throwIfHung();
        reason = 'no answer';
      }
      if (performance.now() > until)
        throw new MfaError(
          `${this.name}: AT+CMGF=${mode} did not settle (${reason}); SMS mode not set`,
          ErrorCode.ModemBusy,
          { flags: { retryable: true } },
        );
      this.setState('initialising', `SMS mode: waiting (${reason})`);
      await sleep(backoff);
      backoff = Math.min(500, backoff * 2);
    }
  }

  /** Registration from +CREG/+CGREG/+CEREG; signal and operator when registered. */
  private async checkRegistration(): Promise<void> {
    if (this.smsImpossible) return;
    const regs: Partial<Record<'+CREG' | '+CGREG' | '+CEREG', Registration>> = {};
    for (const p of ['+CREG', '+CGREG', '+CEREG'] as const) {
      const r = await this.tryExec(`AT${p}?`);
      const reg = r ? parseReg(r.lines, p) : undefined;
      if (reg) regs[p] = reg;
    }
    // All three went unanswered: that says nothing about the network (the hang count decides).
    if (this.unanswered >= 3) return;
    const cs = regs['+CREG']?.stat;
    const ps = regs['+CGREG']?.stat;
    const eps = regs['+CEREG']?.stat;
    const any = [cs, eps, ps].find(isRegistered);
    if (any === undefined) {
      const denied = [cs, ps, eps].includes('denied');
      this.setState('searching', denied ? 'registration denied by the network' : 'looking for a network');
      return;
    }
    this.lteOnly = !isRegistered(cs) && isRegistered(eps);
    this.roaming = isRoaming(any);
    const sig = parseCsq((await this.tryExec('AT+CSQ'))?.lines ?? []);
    this.signal = sig ? { bars: sig.bars, ...(sig.dbm === undefined ? {} : { dbm: sig.dbm }) } : {};
    this.operator = parseCops((await this.tryExec('AT+COPS?'))?.lines ?? []);
    if (this.state === 'sms-refused' && performance.now() < this.smsRefusedUntil) {
      this.emit('health', this.health());
      return;
    }
    const smsOnly =
      cs === 'sms-only-home' ||
      cs === 'sms-only-roaming' ||
      eps === 'sms-only-home' ||
      eps === 'sms-only-roaming';
    const detail = [
      this.roaming ? 'roaming' : undefined,
      smsOnly ? 'SMS only' : undefined,
      this.lteOnly ? 'LTE only (no CS registration)' : undefined,
      this.smscMissing ? 'no SMS centre number on the SIM (set it with AT+CSCA)' : undefined,
    ]
      .filter(Boolean)
      .join(', ');
    if (this.state !== 'sending') this.setState('registered', detail || undefined);
    else this.emit('health', this.health());
  }

  /** Polls registration and signal; returns when the modem needs init or recovery. */
  private async monitor(): Promise<void> {
    while (!this.stopped) {
      if (this.reinitNeeded) return;
      this.throwIfTroubled();
      const waitMs =
        this.state === 'sms-refused'
          ? // Wake when the hold ends, so the modem is offered again as soon as health says so.
            Math.max(10, Math.min(this.timings.pollRegistered, this.smsRefusedUntil - performance.now()))
          : this.state === 'registered' || this.state === 'sending'
            ? this.timings.pollRegistered
            : this.state === 'searching' || this.state === 'initialising'
              ? this.timings.pollSearching
              : this.timings.pollRegistered;
      await this.nap(waitMs);
      if (this.stopped || this.reinitNeeded) return;
      this.throwIfTroubled();
      if (this.state === 'pin-needed' || this.state === 'pin-rejected' || this.state === 'no-sim') {
        // A SIM inserted or unlocked by hand is noticed; init never re-enters a rejected PIN.
        this.reinitNeeded = true;
        return;
      }
      if (this.state === 'failed' && !this.smsImpossible) {
        // Init stopped early (the SIM not ready after the PIN, say): SMS is not configured, so a
        // registration check must not turn it into 'registered'. Init runs again instead.
        this.reinitNeeded = true;
        return;
      }
      try {
        if (this.sendsInFlight === 0) await this.checkRegistration();
      } catch (e) {
        if (e instanceof MfaError && (e.code === ErrorCode.ModemTimeout || e.code === ErrorCode.ModemClosed))
          throw e;
      }
    }
  }

  private throwIfTroubled(): void {
    if (this.channel?.closed) throw new MfaError(`${this.name}: port lost`, ErrorCode.ModemClosed);
    if (this.troubled) throw new MfaError(`${this.name} stopped answering`, ErrorCode.ModemTimeout);
  }

  /**
   * A low rung of the ladder worked: the modem answers AT again. Whether it works beyond AT shows
   * only when init runs through, which resets the counts (initRanThrough).
   */
  private recovered(how: string, hang: boolean): void {
    this.log.info(how);
    this.troubled = false;
    this.unanswered = 0;
    if (hang) this.shallowRecoveries++;
  }

  /** The ladder. Each rung ends as soon as the modem answers AT again (see shallowRecoveries). */
  private async recover(cause: unknown): Promise<void> {
    this.troubled = true;
    const closed = this.channel?.closed || !this.transport?.isOpen;
    // Only hangs escalate: init failing on a SIM that stays busy is not helped by a reset.
    const hang = cause instanceof MfaError && cause.code === ErrorCode.ModemTimeout;
    const deeper = hang ? this.shallowRecoveries : 0;
    if (!closed && this.channel && deeper < 1) {
      // Rungs 1+2: the probe sends ESC first, then AT.
      try {
        if (await this.probe()) {
          return this.recovered('recovered with ESC + AT probe', hang);
        }
      } catch {
        /* fall through */
      }
    }
    // Rung 3: reopen the port (also the path for an unplug: wait for the device to come back).
    if (closed) this.setState('absent', `port lost: ${describeError(cause)}`);
    else this.setState('failed', 'not answering: reopening the port');
    await this.transport?.close().catch(() => undefined);
    this.channel = undefined;
    if (
      !(await waitForPath(
        this.cfg.path,
        this.timings.reenumerate,
        Math.min(250, this.timings.reopenPoll),
        () => this.stopped,
      ))
    ) {
      this.setState('absent', `port ${this.cfg.path} did not come back`);
      return;
    }
    let answersAt = false;
    try {
      await this.connect();
      answersAt = await this.probe();
      if (answersAt && deeper < 2) {
        return this.recovered('recovered by reopening the port', hang);
      }
    } catch {
      /* next rung */
    }
    // Rung 4: full functionality reset; the modem re-enumerates, so the port goes away and back.
    this.shallowRecoveries = 0;
    this.setState(
      'failed',
      answersAt
        ? 'answers AT but hangs on other commands: resetting the modem (AT+CFUN=1,1)'
        : 'not answering after reopen: resetting the modem (AT+CFUN=1,1)',
    );
    try {
      // connect() above replaced the channel; TS cannot see that through the await.
      const ch = this.channel as AtChannel | undefined;
      await ch?.exec('AT+CFUN=1,1', { timeoutMs: this.timings.probe });
    } catch {
      /* the modem may reset before answering */
    }
    await this.transport?.close().catch(() => undefined);
    this.channel = undefined;
    await sleep(Math.min(2000, this.timings.reopenPoll));
    if (
      !(await waitForPath(
        this.cfg.path,
        this.timings.reenumerate,
        Math.min(250, this.timings.reopenPoll),
        () => this.stopped,
      ))
    ) {
      this.noAtPort = true;
      this.setState(
        'failed',
        this.profile?.quirks.resetMayModeswitch
          ? 'no AT port after reset: the stick may have switched to CD-ROM mode (usb_modeswitch)'
          : 'no AT port after reset',
      );
    }
  }

  // ───────────────────────── sending ─────────────────────────

  /**
   * Sends all parts not yet in `progress.refs`. One attempt; see the file comment for retries.
   * Rejects with SmsRetryable | SmsPermanent | SmsSimFailure | SmsUnknown | SmsExpired |
   * SmsEncodingFailed; `flags.outcomeUnknown` when a failure came after a Ctrl-Z.
   */
  async send(to: string, text: string, opts: SmsSendOptions, progress: SendProgress): Promise<number[]> {
    if (!this.canSend())
      throw new MfaError(`${this.name} cannot send: ${this.state}`, ErrorCode.SmsRetryable, {
        flags: { retryable: true },
      });
    const deadlineMono = (progress.deadlineMono ??= monotonicDeadline(this.opts.clock, opts.deadline));
    if (this.secondsLeft(deadlineMono) <= 0)
      throw new MfaError('passcode expired before sending', ErrorCode.SmsExpired);
    this.sendsInFlight++;
    if (this.state === 'registered') this.setState('sending', this.detail);
    try {
      // Text mode keeps the charset and DCS in modem-wide settings (+CSCS, +CSMP), so a whole
      // message holds the modem; PDU mode carries everything in each PDU and interleaves freely.
      if (this.textMode) await this.textLocked(() => this.sendParts(to, text, opts, progress, deadlineMono));
      else await this.sendParts(to, text, opts, progress, deadlineMono);
      this.sentCount++;
      this.smsRefusedUntil = 0;
      if (this.state === 'sms-refused') this.setState('sending');
      return progress.refs;
    } catch (e) {
      this.failedCount++;
      // submitOne has mapped its own failures already; this catches the optional commands around
      // it (AT+CMMS, AT+CSCS, AT+CSMP) when they find the port gone or the modem hung.
      throw this.sendFailure(e);
    } finally {
      this.sendsInFlight--;
      if (this.sendsInFlight === 0 && this.state === 'sending') this.setState('registered', this.detail);
      else this.emit('health', this.health());
    }
  }

  private async sendParts(
    to: string,
    text: string,
    opts: SmsSendOptions,
    progress: SendProgress,
    deadlineMono: number,
  ): Promise<void> {
    // TP-VP: the passcode's remaining life, so the network drops a code that would arrive dead.
    const remainingS = this.secondsLeft(deadlineMono);
    if (remainingS <= 0) throw new MfaError('passcode expired before sending', ErrorCode.SmsExpired);
    const payloads = this.textMode
      ? await this.textPayloads(to, text, opts, remainingS)
      : encodeSubmit({
          to,
          text,
          ...(opts.flash ? { flash: true } : {}),
          ...(opts.statusReport ? { statusReport: true } : {}),
          validitySeconds: remainingS,
        }).map((p) => ({ command: `AT+CMGS=${p.tpduLength}`, payload: p.hex.toUpperCase() }));
    // AT+CMMS=2 keeps the radio link up between the parts of a concatenated message (saves a
    // link set-up per part on GSM). Some sticks (Huawei E1752/E173) refuse it: asked once.
    if (payloads.length - progress.refs.length > 1 && this.cmms !== false)
      this.cmms = (await this.tryExec('AT+CMMS=2')) !== undefined;
    for (let i = progress.refs.length; i < payloads.length; i++) {
      const p = payloads[i];
      if (!p) break;
      const before = progress.beforeSubmitDone ? undefined : opts.beforeSubmit;
      const onCommand = progress.beforeSubmitDone ? undefined : opts.onCommand;
      const ref = await this.submitOne(p.command, p.payload, onCommand, async () => {
        await before?.();
        progress.beforeSubmitDone = true;
        // Checked right before every Ctrl-Z, also on retries that skip beforeSubmit (where the
        // outbox checks expiry): a rejection here leaves the prompt with ESC, nothing sent.
        if (this.opts.clock.monotonic() >= deadlineMono)
          throw new MfaError('passcode expired at the prompt: not sent', ErrorCode.SmsExpired);
      });
      progress.refs.push(ref);
    }
    // Back to plain text, so replies such as +COPS are not hex-encoded UCS2. Every part went out:
    // a failure here must not fail the send (a retry would be a duplicate), only start recovery.
    if (this.textMode)
      await this.tryExec('AT+CSCS="IRA"').catch(() => {
        this.troubled = true;
        this.wake?.();
      });
  }

  private secondsLeft(deadlineMono: number): number {
    return Math.floor((deadlineMono - this.opts.clock.monotonic()) / 1000);
  }

  private textLocked(fn: () => Promise<void>): Promise<void> {
    const run = this.textChain.then(fn, fn);
    this.textChain = run.catch(() => undefined);
    return run;
  }

  private async textPayloads(
    to: string,
    text: string,
    opts: SmsSendOptions,
    remainingS: number,
  ): Promise<{ command: string; payload: string }[]> {
    const body = encodeTextModeBody(text);
    // Text mode has no concatenation: each ≤160 (ASCII) / ≤70 (UCS2) chunk goes as its own SMS.
    const per = body.charset === 'IRA' ? 160 : 70 * 4;
    const chunks: string[] = [];
    for (let i = 0; i < body.body.length; i += per) chunks.push(body.body.slice(i, i + per));
    const cdma = this.profile?.generation === 'cdma';
    await this.tryExec(`AT+CSCS="${body.charset}"`);
    if (!cdma) {
      const dcs = body.dcs | (opts.flash ? 0x10 : 0);
      const vp = secondsToVp(remainingS);
      await this.tryExec(`AT+CSMP=${opts.statusReport ? 49 : 17},${vp},0,${dcs}`);
    }
    const da = body.charset === 'UCS2' ? ucs2Hex(to) : to;
    const toa = to.startsWith('+') ? 145 : 129;
    return chunks.map((payload) => ({ command: `AT+CMGS="${da}",${toa}`, payload }));
  }

  private async submitOne(
    command: string,
    payload: string,
    onCommand: (() => void) | undefined,
    beforeSubmit: () => Promise<void>,
  ): Promise<number> {
    let res;
    try {
      res = await this.ch().submit(command, payload, { beforeSubmit, ...(onCommand ? { onCommand } : {}) });
    } catch (e) {
      throw this.sendFailure(e);
    }
    const { response, submitted } = res;
    if (response.final.ok) {
      // +CMGS is optional on a few old phones (Gammu notes mr=-1); the network took the message.
      return parseCmgs(response.lines) ?? -1;
    }
    const c = classifyFinal(response.final);
    if (c.class !== 'permanent' && c.class !== 'sim' && this.lteOnly) this.markSmsRefused(c.reason);
    if (c.class === 'sim') {
      // The SIM changed under us (removed, locked, failed): re-run init so health says what it is.
      this.reinitNeeded = true;
      this.wake?.();
    }
    if (submitted && !refusedBeforeAcceptance(c))
      // The SMSC may have the message (CMS 332, 500, plain ERROR…): a retry could be a duplicate.
      throw new MfaError(
        `${this.name}: ${c.reason} after Ctrl-Z: the message may have gone`,
        ErrorCode.SmsUnknown,
        { flags: { outcomeUnknown: true, retryable: false }, cause: c },
      );
    throw new MfaError(
      `${this.name}: ${c.reason}${submitted ? '' : ' (before the prompt)'}`,
      smsErrorCode(c.class),
      {
        flags: { retryable: c.class === 'retryable' },
        cause: c,
      },
    );
  }

  private markSmsRefused(reason: string): void {
    this.smsRefusedUntil = performance.now() + this.timings.smsRefusedHold;
    this.setState('sms-refused', `registered on LTE but the network refuses SMS (${reason})`);
    // The monitor re-plans its nap around the hold's end.
    this.wake?.();
  }

  /** Timeouts and lost ports: the outcome is unknown after Ctrl-Z; the supervisor recovers. */
  private sendFailure(e: unknown): unknown {
    if (!(e instanceof MfaError)) return e;
    if (e.code !== ErrorCode.ModemTimeout && e.code !== ErrorCode.ModemClosed) return e;
    if (!e.flags.canceled) {
      this.troubled = true;
      this.wake?.();
    }
    const unknown = e.flags.outcomeUnknown === true;
    return new MfaError(
      `${this.name}: ${e.message}${unknown ? ' (after Ctrl-Z: the message may have gone)' : ''}`,
      unknown ? ErrorCode.SmsUnknown : ErrorCode.SmsRetryable,
      { cause: e, flags: { ...e.flags, retryable: !unknown } },
    );
  }

  /** For `mfabox modem probe`: a one-shot read without the supervisor. */
  async probeOnce(): Promise<ProbeReport> {
    this.stopped = false;
    try {
      await this.connect(true);
      await this.initialise();
      const simLocked = this.state === 'no-sim' || this.state.startsWith('pin');
      const reg = simLocked
        ? 'not checked (SIM not ready)'
        : this.state === 'registered'
          ? `registered${this.roaming ? ' (roaming)' : ''}${this.lteOnly ? ', LTE only' : ''}`
          : `${this.state}${this.detail ? `: ${this.detail}` : ''}`;
      return {
        identity: this.identity,
        profile: this.profile?.name ?? 'unknown',
        sim:
          this.state === 'no-sim' || this.state.startsWith('pin')
            ? `${this.state}: ${this.detail ?? ''}`
            : 'ready',
        registration: reg,
        ...(this.operator ? { operator: this.operator } : {}),
        ...(this.signal.dbm === undefined ? {} : { dbm: this.signal.dbm }),
        ...(this.signal.bars === undefined ? {} : { bars: this.signal.bars }),
        ...(this.smsc ? { smsc: this.smsc } : {}),
        textMode: this.textMode,
      };
    } finally {
      this.stopped = true;
      await this.transport?.close();
    }
  }

  /** For `mfabox modem send`: init once, send, close. */
  async sendOnce(to: string, text: string, opts: SmsSendOptions): Promise<number[]> {
    this.stopped = false;
    try {
      await this.connect(true);
      await this.initialise();
      if (!this.canSend()) throw this.notReady();
      return await this.send(to, text, opts, { refs: [], beforeSubmitDone: false });
    } finally {
      this.stopped = true;
      await this.transport?.close();
    }
  }

  /** Class of the last failure, for the pool's retry decision. */
  static classOf(e: unknown): AtErrorClass | 'expired' | 'other' {
    if (!(e instanceof MfaError)) return 'other';
    switch (e.code) {
      case ErrorCode.SmsRetryable:
        return 'retryable';
      case ErrorCode.SmsPermanent:
      case ErrorCode.SmsEncodingFailed:
      case ErrorCode.SmsInvalidNumber:
        return 'permanent';
      case ErrorCode.SmsSimFailure:
        return 'sim';
      case ErrorCode.SmsUnknown:
        return 'unknown';
      case ErrorCode.SmsExpired:
        return 'expired';
      default:
        return 'other';
    }
  }
}

/**
 * A refusal of AT+CMGF that means "not this mode here", not "not now": plain ERROR (what most
 * firmware answers for an unsupported value), "operation not allowed / not supported" (CMS 302,
 * 303, CME 3, 4), an invalid parameter (CMS 304, CME 50) and vendor words for unsupported commands.
 */
function definitelyUnsupported(c: ClassifiedError): boolean {
  if (c.family === 'error') return true;
  if (c.family === 'vendor') return c.reason === 'COMMAND NOT SUPPORT' || c.reason === 'TOO MANY PARAMETERS';
  if (c.family === 'cms') return c.code === 302 || c.code === 303 || c.code === 304;
  return c.code === 3 || c.code === 4 || c.code === 50;
}

function unclearDetail(reason: string, triesLeft: number | undefined): string {
  return triesLeft === undefined
    ? `PIN entry failed (${reason}) and the SIM cannot tell whether it counted: not entered again, also after a restart; check the PIN and change the setting (a different PIN gets one try; if it was right, clear the setting once and set it again)`
    : `PIN entry failed (${reason}) without a try being counted (${triesLeft} left): entered again at a later check`;
}

function legacyPinHash(salt: string, pin: string): string {
  return createHash('sha256').update(`${salt}:${pin}`).digest('hex');
}

function ucs2Hex(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += s.charCodeAt(i).toString(16).padStart(4, '0').toUpperCase();
  return out;
}
