/**
 * One modem: open → init → SIM/PIN → registered → ready, kept there by a supervisor loop and a
 * recovery ladder, with health as events. The parts with a job of their own live beside it:
 * sim-pin.ts (PIN safety and its records), sms-setup.ts (PDU or text mode, SMSC, CNMI),
 * sms-submit.ts (the CMGS exchange), urcs.ts (what unsolicited lines mean), status-reports.ts,
 * report.ts (health, facts and the not-ready error from one snapshot),
 * send-failure.ts (what a failure means, and the retry rules) and one-shot.ts (the CLI's probe
 * and send).
 *
 * Where retries live: a Modem makes ONE attempt per part and reports a classified failure; the
 * pool decides on retries, because only the pool can move a retry to another modem, knows the
 * per-SIM rate budget and the message deadline. The one thing a modem waits out by itself is
 * SIM busy (CME 14) during init, with a short backoff.
 *
 * Recovery ladder when the modem stops answering: AT probe → ESC (leave a stuck prompt) →
 * reopen the port → AT+CFUN=1,1 → wait for USB re-enumeration. A boot URC (RDY, SMS Ready,
 * ^SYSSTART…) seen mid-run means the modem reset: the command in flight fails and init reruns.
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../clock.ts';
import type { ModemConfig } from '../config/schema.ts';
import { ErrorCode, MfaError, describeError } from '../errors.ts';
import { logger } from '../log.ts';
import type { AtCommands, ChannelTimeouts } from './channel.ts';
import { identify, readIccid } from './identify.ts';
import type { ModemProfile } from './profiles.ts';
import { ModemLink } from './link.ts';
import { RecoveryLadder, type LadderHost } from './recovery.ts';
import { readRegistration } from './registration.ts';
import { factsOf, healthOf, notReadyError, type ModemView } from './report.ts';
import { sendFailure } from './send-failure.ts';
import { SimPin, type SimPinOptions } from './sim-pin.ts';
import { configureSms } from './sms-setup.ts';
import { SmsSubmitter, type SendProgress, type SubmitHost } from './sms-submit.ts';
import type { TransportFactory } from './transport.ts';
import { UrcHandler } from './urcs.ts';
import type { ModemFacts, ModemHealth, ModemState, SmsSendOptions } from './types.ts';

import { DEFAULT_TIMINGS, type ModemTimings, type StopOptions } from './timings.ts';

export type { SendProgress } from './sms-submit.ts';
export type { ModemTimings, StopOptions } from './timings.ts';

export interface ModemOptions {
  config: ModemConfig;
  /** Holds the SIM PIN records (see sim-pin.ts); nothing else of the modem is stored. */
  store: SimPinOptions['store'];
  clock: Clock;
  /** Opens the port: serialport on the box, a pty or an in-process stream elsewhere. Required. */
  transportFactory: TransportFactory;
  timeouts?: Partial<ChannelTimeouts>;
  timings?: Partial<ModemTimings>;
  /** See SimPinOptions.pinKey. */
  pinKey?: Buffer;
}

/**
 * Emits 'health' (ModemHealth) on every change and 'status-report' (StatusReportEvent) for
 * delivery reports.
 */
export class Modem extends EventEmitter {
  readonly name: string;
  private readonly cfg: ModemConfig;
  private readonly timings: ModemTimings;
  private readonly log;
  private readonly link: ModemLink;
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
  private lastSentAt: number | undefined; // wall ms, for the dashboard's "last send"
  private failedCount = 0;
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private reinitNeeded = false;
  private troubled = false;
  private smsRefusedUntil = 0;
  private sendsInFlight = 0;
  /** Set after a reset when the port did not come back: the E173 modeswitch trap. */
  private noAtPort = false;
  /** Full ladders climbed without the modem coming back: backs off so a dead modem is not reset every few seconds. */
  private ladderFailures = 0;
  private cnmaRequired = false;
  private smscMissing = false;
  /** Set when the modem has no SMS mode at all; cleared on the next init. */
  private smsImpossible = false;
  private readonly sim: SimPin;
  private readonly submitter: SmsSubmitter;
  private readonly ladder: RecoveryLadder;
  private readonly urcs: UrcHandler;

  constructor(private readonly opts: ModemOptions) {
    super();
    this.cfg = opts.config;
    this.name = opts.config.name;
    this.timings = { ...DEFAULT_TIMINGS, ...opts.timings };
    this.log = logger('modem').child({ modem: this.name });
    this.link = new ModemLink({
      name: this.name,
      config: this.cfg,
      transportFactory: opts.transportFactory,
      ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
      hangTimeouts: this.timings.hangTimeouts,
      onUrc: (ev) => this.urcs.handle(ev),
      onClosed: () => {
        this.troubled = true;
        this.wake?.();
      },
    });
    this.sim = new SimPin({
      store: opts.store,
      clock: opts.clock,
      log: this.log,
      simBusyMax: this.timings.simBusyMax,
      pollRegistered: this.timings.pollRegistered,
      ...(opts.pinKey ? { pinKey: opts.pinKey } : {}),
    });
    this.submitter = new SmsSubmitter(this.submitHost());
    this.ladder = new RecoveryLadder(this.ladderHost());
    this.urcs = new UrcHandler({
      name: this.name,
      log: this.log,
      clock: opts.clock,
      link: this.link,
      profile: () => this.profile,
      state: () => this.state,
      cnmaRequired: () => this.cnmaRequired,
      restarted: () => {
        this.reinitNeeded = true;
      },
      wake: () => this.wake?.(),
      statusReport: (ev) => this.emit('status-report', ev),
    });
  }

  private ladderHost(): LadderHost {
    const factory = this.opts.transportFactory;
    return {
      path: this.cfg.path,
      timings: this.timings,
      profile: () => this.profile,
      stopped: () => this.stopped,
      portLost: () => this.link.portLost,
      hasChannel: () => this.link.hasChannel,
      probe: () => this.probe(),
      reopen: () => this.connect(),
      closePort: () => this.link.close(),
      resetModem: async () => {
        try {
          await this.link.current?.exec('AT+CFUN=1,1', { timeoutMs: this.timings.probe });
        } catch {
          /* the modem may reset before answering */
        }
      },
      setState: (state, detail) => this.setState(state, detail),
      recovered: (how) => {
        this.log.info(how);
        this.troubled = false;
        this.link.unanswered = 0;
      },
      noAtPort: () => {
        this.noAtPort = true;
      },
      ...(factory.exists ? { exists: factory.exists } : {}),
    };
  }

  health(): ModemHealth {
    return healthOf(this.view());
  }

  /** The fields report.ts reads, at this moment. */
  private view(): ModemView {
    return {
      name: this.name,
      state: this.state,
      detail: this.detail,
      identity: this.identity,
      signal: this.signal,
      operator: this.operator,
      roaming: this.roaming,
      lteOnly: this.lteOnly,
      smsc: this.smsc,
      textMode: this.textMode,
      profile: this.profile?.name,
      sentCount: this.sentCount,
      failedCount: this.failedCount,
      lastSentAt: this.lastSentAt,
      smsImpossible: this.smsImpossible,
    };
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
    // Not `state`: log.ts redacts that name (a RADIUS State is a live credential).
    this.log.info({ modemState: state, detail }, 'modem state');
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
    const ch = this.link.current;
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
    await this.link.close();
    await this.loop;
  }

  /** Why the modem cannot send, as the most specific code (the CLI exits with its message). */
  notReady(): MfaError {
    return notReadyError(this.view());
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
        this.troubled = true;
        await this.ladder.climb(e);
        if (this.troubled) {
          this.ladderFailures++;
          await this.nap(Math.min(300000, this.timings.reopenPoll * 2 ** Math.min(8, this.ladderFailures)));
        }
      }
    }
  }

  /** Opens the port (waiting for it unless `once`) with a fresh channel. */
  private async connect(once = false): Promise<void> {
    if (this.link.isOpen) return;
    for (;;) {
      if (this.stopped) throw new MfaError('stopped', ErrorCode.ModemClosed);
      try {
        await this.link.open();
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
    this.noAtPort = false;
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

  /** exec and tryExec through the link (and its hang count), for the parts beside the modem. */
  private atCommands(): AtCommands {
    return { exec: (c, o) => this.link.exec(c, o), tryExec: (c) => this.link.tryExec(c) };
  }

  /** AT until OK, probeTries times, ESC first. */
  private probe(): Promise<boolean> {
    return this.link.probe(this.timings.probe, this.timings.probeTries);
  }

  private async initialise(): Promise<void> {
    this.reinitNeeded = false;
    this.troubled = false;
    this.link.unanswered = 0;
    this.smsImpossible = false;
    // A periodic re-check of a locked or missing SIM should not make the LEDs flicker.
    if (this.state !== 'no-sim' && this.state !== 'pin-needed' && this.state !== 'pin-rejected')
      this.setState('initialising');
    if (!(await this.probe()))
      throw new MfaError(`${this.name} does not answer AT`, ErrorCode.ModemTimeout, {
        flags: { retryable: true },
      });
    await this.link.tryExec('ATE0');
    await this.link.tryExec('ATV1');
    if (!(await this.link.tryExec('AT+CMEE=1'))) await this.link.tryExec('AT+CMEE=2');
    await this.identify();
    for (const c of this.profile?.init ?? []) await this.link.tryExec(c);
    if (!(await this.unlockSim())) return this.initRanThrough();
    for (const c of this.profile?.disableUrcs ?? []) await this.link.tryExec(c);
    await this.readIccid();
    await this.configureSms();
    await this.checkRegistration();
    this.initRanThrough();
  }

  /** Init got as far as it can without a hang: whatever the ladder did has worked. */
  private initRanThrough(): void {
    this.ladderFailures = 0;
    this.ladder.shallowRecoveries = 0;
  }

  private async identify(): Promise<void> {
    const { identity, profile } = await identify(this.link, this.cfg.profile, this.log);
    this.identity = identity;
    this.profile = profile;
  }

  private async readIccid(): Promise<string | undefined> {
    if (this.identity.iccid) return this.identity.iccid;
    const iccid = await readIccid(this.link, this.profile);
    if (iccid) this.identity = { ...this.identity, iccid };
    return iccid;
  }

  /** The SIM's PIN (sim-pin.ts): true when the SIM is ready. */
  private async unlockSim(): Promise<boolean> {
    // The ICCID is readable before the PIN on most modems; health shows which SIM is locked.
    await this.readIccid();
    return this.sim.unlock(
      {
        ...this.atCommands(),
        profile: this.profile,
        setState: (state, detail) => this.setState(state, detail),
      },
      this.cfg.pin,
      async () => (await this.readIccid()) ?? `imei:${this.identity.imei ?? this.cfg.path}`,
    );
  }

  private async configureSms(): Promise<void> {
    const setup = await configureSms(
      {
        ...this.atCommands(),
        name: this.name,
        clock: this.opts.clock,
        log: this.log,
        setState: (state, detail) => this.setState(state, detail),
        throwIfHung: () => this.link.throwIfHung(),
      },
      this.profile,
      this.timings.simBusyMax,
    );
    this.textMode = setup.textMode;
    this.smsImpossible = setup.impossible;
    this.smsc = setup.smsc;
    this.smscMissing = setup.smscMissing;
    this.cnmaRequired = setup.cnmaRequired;
  }

  /** Registration from +CREG/+CGREG/+CEREG; signal and operator when registered. */
  private async checkRegistration(): Promise<void> {
    if (this.smsImpossible) return;
    const reg = await readRegistration(this.link, () => this.link.unanswered >= 3);
    if (reg.kind === 'unanswered') return;
    if (reg.kind === 'searching') {
      this.setState('searching', reg.denied ? 'registration denied by the network' : 'looking for a network');
      return;
    }
    this.lteOnly = reg.lteOnly;
    this.roaming = reg.roaming;
    this.signal = reg.signal;
    this.operator = reg.operator;
    if (this.state === 'sms-refused' && this.opts.clock.monotonic() < this.smsRefusedUntil) {
      this.emit('health', this.health());
      return;
    }
    const detail = [
      this.roaming ? 'roaming' : undefined,
      reg.smsOnly ? 'SMS only' : undefined,
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
            Math.max(
              10,
              Math.min(this.timings.pollRegistered, this.smsRefusedUntil - this.opts.clock.monotonic()),
            )
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
    if (this.link.channelClosed) throw new MfaError(`${this.name}: port lost`, ErrorCode.ModemClosed);
    if (this.troubled) throw new MfaError(`${this.name} stopped answering`, ErrorCode.ModemTimeout);
  }

  // ───────────────────────── sending ─────────────────────────

  /**
   * Sends all parts not yet in `progress.refs`. One attempt; see the file comment for retries.
   * Rejects with an MfaError whose `sendFailure` (send-failure.ts) says what it means or, for a text that cannot be encoded,
   * SmsEncodingFailed.
   */
  async send(to: string, text: string, opts: SmsSendOptions, progress: SendProgress): Promise<number[]> {
    if (!this.canSend()) throw sendFailure('retryable', `${this.name} cannot send: ${this.state}`);
    // Fixed once per message: every later check (retries, each Ctrl-Z, TP-VP) runs on it.
    const deadlineMono = (progress.deadlineMono ??= this.opts.clock.monotonic() + opts.remainingMs);
    if (this.submitter.secondsLeft(deadlineMono) <= 0)
      throw sendFailure('expired', 'passcode expired before sending');
    this.sendsInFlight++;
    if (this.state === 'registered') this.setState('sending', this.detail);
    try {
      await this.submitter.send(to, text, opts, progress, deadlineMono);
      this.sentCount++;
      this.lastSentAt = this.opts.clock.now();
      this.smsRefusedUntil = 0;
      if (this.state === 'sms-refused') this.setState('sending');
      return progress.refs;
    } catch (e) {
      this.failedCount++;
      // The exchange has classified its own failures; this catches the optional commands around
      // it (AT+CMMS, AT+CSCS, AT+CSMP) when they find the port gone or the modem hung.
      throw this.submitter.failure(e);
    } finally {
      this.sendsInFlight--;
      if (this.sendsInFlight === 0 && this.state === 'sending') this.setState('registered', this.detail);
      else this.emit('health', this.health());
    }
  }

  private submitHost(): SubmitHost {
    return {
      ...this.atCommands(),
      name: this.name,
      clock: this.opts.clock,
      profile: () => this.profile,
      textMode: () => this.textMode,
      lteOnly: () => this.lteOnly,
      channel: () => this.link.ch(),
      smsRefused: (reason) => this.markSmsRefused(reason),
      simChanged: () => {
        this.reinitNeeded = true;
        this.wake?.();
      },
      troubled: () => {
        this.troubled = true;
        this.wake?.();
      },
    };
  }

  private markSmsRefused(reason: string): void {
    this.smsRefusedUntil = this.opts.clock.monotonic() + this.timings.smsRefusedHold;
    this.setState('sms-refused', `registered on LTE but the network refuses SMS (${reason})`);
    // The monitor re-plans its nap around the hold's end.
    this.wake?.();
  }

  /**
   * For the CLI's one-shot commands (one-shot.ts): opens the port at once (a missing port is an
   * error, not something to wait for), runs init once, runs `fn`, closes.
   */
  async runOnce<T>(fn: () => Promise<T>): Promise<T> {
    this.stopped = false;
    try {
      await this.connect(true);
      await this.initialise();
      return await fn();
    } finally {
      this.stopped = true;
      await this.link.close();
    }
  }

  /** The web Probe: facts asked afresh on the open port; the last known ones while down, in init or mid-send. */
  async refreshFacts(): Promise<ModemFacts> {
    const answering = !this.stopped && this.link.isOpen && !this.troubled && !this.reinitNeeded;
    if (answering && this.state !== 'initialising' && this.sendsInFlight === 0) {
      const fresh = await identify(this.link, this.cfg.profile, this.log);
      this.identity = { ...this.identity, ...fresh.identity };
      if (this.state === 'registered' || this.state === 'searching') await this.checkRegistration();
    }
    return this.facts();
  }

  /** What init found, for `mfabox modem probe`. */
  facts(): ModemFacts {
    return factsOf(this.view());
  }
}
