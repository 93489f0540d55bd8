/**
 * Several modems behind the `SmsSender` seam: round robin over the ones that can send, failover
 * when one fails, a send-rate budget per SIM, and health for LEDs and the UI.
 *
 * Retries live here (not in Modem): a retryable failure (network congestion, CMS 512 collision,
 * a modem that stopped answering before the prompt) is tried again, on another modem when one is
 * free, with a short backoff (250 ms, 500 ms…) and never past the message deadline. CMS 500 and
 * other unknown failures before Ctrl-Z are tried once more; permanent ones (bad number, bad PDU)
 * never. A SIM failure moves the message to another modem. After Ctrl-Z only a clear refusal
 * (RP-ERROR 38/41/42/47, 331, 512, SIM busy: see the table in at/errors.ts) is retried; anything
 * ambiguous (CMS 332, 500, plain ERROR, a timeout, a lost port) comes back as `outcomeUnknown`
 * and is never retried here: that would risk a duplicate, and the outbox owns that decision.
 * The rules themselves are in send-failure.ts (nextStep), shared with `mfabox modem send`.
 *
 * reconfigure() applies a new modem list in place (the web page's live apply): unchanged modems
 * keep running, removed or changed ones stop gracefully (a send past Ctrl-Z gets its final), and
 * sends in flight move to another modem like any retry. Queued passcodes are the outbox's and
 * never pass through here, so none is lost.
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../clock.ts';
import type { ModemConfig } from '../config/schema.ts';
import { describeError } from '../errors.ts';
import { logger } from '../log.ts';
import type { ChannelTimeouts } from './channel.ts';
import { Modem, type ModemOptions, type ModemTimings, type SendProgress, type StopOptions } from './modem.ts';
import { nextStep, retryDelayMs, sendFailure, sendFailureOf } from './send-failure.ts';
import { probeReport, type ProbeReport } from './one-shot.ts';
import type { StatusReportEvent } from './status-reports.ts';
import type { TransportFactory } from './transport.ts';
import type { ModemHealth, SmsSendOptions, SmsSendResult, SmsSender } from './types.ts';

const log = logger('modem:pool');

export interface PoolOptions {
  /** Opens a modem's port: serialport on the box, a pty or an in-process stream elsewhere. */
  transportFactory: TransportFactory;
  timeouts?: Partial<ChannelTimeouts>;
  timings?: Partial<ModemTimings>;
  /** [10...5000] ms, default 250: first retry backoff, doubled per attempt. */
  retryBackoffMs?: number;
  /** [500...60000] ms, default 3000: assumed time per SMS until sends have been measured. */
  assumedSendMs?: number;
  /** Key for the rejected-PIN markers (see ModemOptions.pinKey); the appliance's device key. */
  pinKey?: Buffer;
}

interface Slot {
  modem: Modem;
  config: ModemConfig;
  maxPerMinute: number;
  /** Monotonic times of recent SMS (parts) sent, for the per-SIM rate budget. */
  recent: number[];
  /** Exponentially weighted mean ms per part, measured. */
  sendMs: number;
  reserved: number;
}

/**
 * Emits 'health' (ModemHealth[]) whenever any modem changes state (also through onHealth, the
 * SmsSender seam), and 'status-report' (StatusReportEvent).
 */
export class ModemPool extends EventEmitter implements SmsSender {
  private slots: Slot[];
  private next = 0;
  private readonly backoffMs: number;
  private started = false;
  /** reconfigure() calls, one at a time. */
  private reconfiguring: Promise<void> = Promise.resolve();

  constructor(
    configs: ModemConfig[],
    private readonly store: ModemOptions['store'],
    private readonly clock: Clock,
    private readonly opts: PoolOptions,
  ) {
    super();
    this.backoffMs = opts.retryBackoffMs ?? 250;
    this.slots = configs.map((config) => this.slotFor(config));
  }

  private slotFor(config: ModemConfig): Slot {
    const opts = this.opts;
    const modem = new Modem({
      config,
      store: this.store,
      clock: this.clock,
      transportFactory: opts.transportFactory,
      ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
      ...(opts.timings ? { timings: opts.timings } : {}),
      ...(opts.pinKey ? { pinKey: opts.pinKey } : {}),
    });
    modem.on('health', () => this.emit('health', this.health()));
    modem.on('status-report', (r: StatusReportEvent) => this.emit('status-report', r));
    return {
      modem,
      config,
      maxPerMinute: config.maxPerMinute,
      recent: [],
      sendMs: opts.assumedSendMs ?? 3000,
      reserved: 0,
    };
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const s of this.slots) s.modem.start();
  }

  onHealth(listener: (h: ModemHealth[]) => void): () => void {
    this.on('health', listener);
    return () => this.off('health', listener);
  }

  /**
   * Applies a new modem list in place, matched by name: a modem whose settings are unchanged keeps
   * running (a new rate budget applies at once); a changed one is stopped gracefully and started
   * again with its new settings (its port may be the same device); a removed one is stopped; a new
   * one is started. Resolves when every change is in place. Calls are applied one at a time.
   */
  reconfigure(configs: ModemConfig[]): Promise<void> {
    const run = this.reconfiguring.then(() => this.applyConfigs(configs));
    this.reconfiguring = run.catch(() => undefined);
    return run;
  }

  private async applyConfigs(configs: ModemConfig[], stopOpts: StopOptions = {}): Promise<void> {
    const byName = new Map(this.slots.map((s) => [s.config.name, s]));
    const keep: Slot[] = [];
    const retire: Slot[] = [];
    const fresh: ModemConfig[] = [];
    for (const config of configs) {
      const s = byName.get(config.name);
      byName.delete(config.name);
      if (s && sameModem(s.config, config)) {
        s.config = config;
        s.maxPerMinute = config.maxPerMinute;
        keep.push(s);
      } else {
        if (s) retire.push(s);
        fresh.push(config);
      }
    }
    retire.push(...byName.values());
    // Out of the rotation first, so no new send picks a modem that is going.
    this.slots = keep;
    this.next = 0;
    // Stopped before their replacements open the same port.
    await Promise.all(
      retire.map(async (s) => {
        await s.modem.stop(stopOpts);
        s.modem.removeAllListeners();
      }),
    );
    const added = fresh.map((c) => this.slotFor(c));
    // In the order of the new list, so round robin follows the admin's order.
    const order = new Map(configs.map((c, i) => [c.name, i]));
    this.slots = [...keep, ...added].sort(
      (a, b) => (order.get(a.config.name) ?? 0) - (order.get(b.config.name) ?? 0),
    );
    if (this.started) for (const s of added) s.modem.start();
    if (retire.length > 0 || added.length > 0)
      log.info(
        { stopped: retire.map((s) => s.config.name), started: added.map((s) => s.config.name) },
        'modems reconfigured',
      );
    this.emit('health', this.health());
  }

  /**
   * Graceful stop of every modem (see Modem.stop): new sends are refused, sends not past the
   * prompt are abandoned with ESC, sends past Ctrl-Z get their final (at most `drainMs`, default
   * the send timeout, 90 s) so a restart mid-send neither loses nor duplicates an SMS.
   */
  async stop(opts: StopOptions = {}): Promise<void> {
    this.started = false;
    await Promise.all(this.slots.map((s) => s.modem.stop(opts)));
  }

  /** Resolves once any modem can send (for the demo and tests). */
  async whenReady(timeoutMs: number): Promise<void> {
    const until = this.clock.monotonic() + timeoutMs;
    while (!this.ready()) {
      if (this.clock.monotonic() > until) throw sendFailure('no-modem', 'no modem became ready');
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Fresh facts from the named running modem on its open port; undefined when there is no such modem. */
  async probe(name: string): Promise<ProbeReport | undefined> {
    const modem = this.slots.find((s) => s.config.name === name)?.modem;
    return modem ? probeReport(await modem.refreshFacts()) : undefined;
  }

  modems(): Modem[] {
    return this.slots.map((s) => s.modem);
  }

  ready(): boolean {
    return this.slots.some((s) => s.modem.canSend());
  }

  health(): ModemHealth[] {
    return this.slots.map((s) => s.modem.health());
  }

  /** ms until the modem's SIM may send another part under its per-minute budget. */
  private rateWait(s: Slot, now: number): number {
    s.recent = s.recent.filter((t) => now - t < 60000);
    // Sends in flight count against the budget too, or concurrent callers could overshoot it.
    const used = s.recent.length + s.reserved;
    if (used < s.maxPerMinute) return 0;
    const oldest = s.recent[Math.max(0, s.recent.length - (s.maxPerMinute - s.reserved))] ?? now;
    return Math.max(1, oldest + 60000 - now);
  }

  /** Per-modem interval between SMS: the slower of the measured send time and the rate budget. */
  private interval(s: Slot): number {
    return Math.max(s.sendMs, 60000 / s.maxPerMinute);
  }

  expectedWaitMs(queued: number): number {
    const now = this.clock.monotonic();
    const live = this.slots.filter((s) => s.modem.canSend());
    if (live.length === 0) return Infinity;
    // Messages ahead are shared out across modems; each modem takes one per interval.
    let best = Infinity;
    const perModem = Math.floor(queued / live.length);
    for (const s of live) {
      const busyRemainder = s.modem.busy || s.reserved > 0 ? s.sendMs / 2 : 0;
      const wait = Math.max(this.rateWait(s, now), busyRemainder) + perModem * this.interval(s);
      best = Math.min(best, wait);
    }
    return Math.round(best);
  }

  /** Round robin over modems that can send; idle and in-budget ones first. */
  private pick(exclude: Set<Modem>): { slot: Slot; wait: number } | undefined {
    const now = this.clock.monotonic();
    const n = this.slots.length;
    let best: { slot: Slot; wait: number; load: number } | undefined;
    for (let k = 0; k < n; k++) {
      const s = this.slots[(this.next + k) % n];
      if (!s || !s.modem.canSend() || exclude.has(s.modem)) continue;
      const wait = this.rateWait(s, now);
      const load = s.reserved + (s.modem.busy ? 1 : 0);
      if (!best || wait < best.wait || (wait === best.wait && load < best.load))
        best = { slot: s, wait, load };
    }
    if (best) this.next = (this.slots.indexOf(best.slot) + 1) % n;
    return best;
  }

  async send(to: string, text: string, opts: SmsSendOptions): Promise<SmsSendResult> {
    // Every later check uses the monotonic clock: NTP may step the wall clock during the send.
    const deadlineMono = this.clock.monotonic() + opts.remainingMs;
    const progress: SendProgress = { refs: [], beforeSubmitDone: false, deadlineMono };
    const tried = new Set<Modem>();
    let attempt = 0;
    let lastError: unknown;
    for (;;) {
      if (this.clock.monotonic() >= deadlineMono)
        throw sendFailure('expired', 'passcode expired before it could be sent', {
          ...(lastError === undefined ? {} : { cause: lastError }),
        });
      let choice = this.pick(tried);
      if (!choice && tried.size > 0) choice = this.pick(new Set());
      if (!choice)
        throw sendFailure('no-modem', 'no modem can send now', {
          ...(lastError === undefined ? {} : { cause: lastError }),
        });
      const { slot, wait } = choice;
      if (wait > 0) {
        if (this.clock.monotonic() + wait >= deadlineMono)
          throw sendFailure('retryable', 'rate limit would delay the SMS past its deadline');
        // Wait, then choose again: another caller may have taken the slot meanwhile.
        await new Promise((r) => setTimeout(r, wait));
        continue;
      }
      slot.reserved++;
      const started = this.clock.monotonic();
      const before = progress.refs.length;
      try {
        const refs = await slot.modem.send(to, text, opts, progress);
        this.account(slot, started, refs.length - before);
        return { messageRefs: [...refs], modem: slot.modem.name };
      } catch (e) {
        this.account(slot, started, progress.refs.length - before);
        lastError = e;
        attempt++;
        const failure = sendFailureOf(e);
        const step = nextStep(failure, attempt);
        log.warn(
          { modem: slot.modem.name, attempt, cls: failure?.class ?? 'other', err: describeError(e) },
          'send attempt failed',
        );
        if (step === 'give-up') throw e;
        tried.add(slot.modem);
        if (step === 'another-modem') {
          if (this.slots.some((s) => !tried.has(s.modem) && s.modem.canSend())) continue;
          throw e;
        }
        await new Promise((r) => setTimeout(r, retryDelayMs(attempt, this.backoffMs)));
      } finally {
        slot.reserved--;
      }
    }
  }

  private account(slot: Slot, started: number, parts: number): void {
    if (parts <= 0) return;
    const now = this.clock.monotonic();
    for (let i = 0; i < parts; i++) slot.recent.push(now);
    const per = (now - started) / parts;
    slot.sendMs = slot.sendMs * 0.7 + per * 0.3;
  }
}

/** Whether two settings of one modem need no restart between them (only the rate budget differs). */
function sameModem(a: ModemConfig, b: ModemConfig): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)] as (keyof ModemConfig)[]);
  keys.delete('maxPerMinute');
  return [...keys].every((k) => a[k] === b[k]);
}
