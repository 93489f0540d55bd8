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
 */
import { EventEmitter } from 'node:events';
import type { Clock } from '../clock.ts';
import type { ModemConfig } from '../config/schema.ts';
import { ErrorCode, MfaError, describeError } from '../errors.ts';
import { logger } from '../log.ts';
import type { Store } from '../store/store.ts';
import type { ChannelTimeouts } from './at/channel.ts';
import { attemptsFor } from './at/errors.ts';
import { Modem, monotonicDeadline, type ModemTimings, type SendProgress, type StopOptions } from './modem.ts';
import type { TransportFactory } from './transport.ts';
import type { ModemHealth, SmsSendOptions, SmsSendResult, SmsSender } from './types.ts';

const log = logger('modem:pool');

export interface PoolOptions {
  transportFactory?: TransportFactory;
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
  maxPerMinute: number;
  /** Monotonic times of recent SMS (parts) sent, for the per-SIM rate budget. */
  recent: number[];
  /** Exponentially weighted mean ms per part, measured. */
  sendMs: number;
  reserved: number;
}

export class ModemPool extends EventEmitter implements SmsSender {
  private readonly slots: Slot[];
  private next = 0;
  private readonly backoffMs: number;
  private started = false;

  constructor(
    configs: ModemConfig[],
    store: Store,
    private readonly clock: Clock,
    opts: PoolOptions = {},
  ) {
    super();
    this.backoffMs = opts.retryBackoffMs ?? 250;
    this.slots = configs.map((config) => {
      const modem = new Modem({
        config,
        store,
        clock,
        ...(opts.transportFactory ? { transportFactory: opts.transportFactory } : {}),
        ...(opts.timeouts ? { timeouts: opts.timeouts } : {}),
        ...(opts.timings ? { timings: opts.timings } : {}),
        ...(opts.pinKey ? { pinKey: opts.pinKey } : {}),
      });
      modem.on('health', () => this.emit('health', this.health()));
      modem.on('status-report', (r: unknown) => this.emit('status-report', r));
      return {
        modem,
        maxPerMinute: config.maxPerMinute,
        recent: [],
        sendMs: opts.assumedSendMs ?? 3000,
        reserved: 0,
      };
    });
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const s of this.slots) s.modem.start();
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
    const until = performance.now() + timeoutMs;
    while (!this.ready()) {
      if (performance.now() > until) throw new MfaError('no modem became ready', ErrorCode.SmsNoModem);
      await new Promise((r) => setTimeout(r, 25));
    }
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
    const now = performance.now();
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
    const now = performance.now();
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
    const deadlineMono = monotonicDeadline(this.clock, opts.deadline);
    const progress: SendProgress = { refs: [], beforeSubmitDone: false, deadlineMono };
    const tried = new Set<Modem>();
    let attempt = 0;
    let lastError: unknown;
    for (;;) {
      if (this.clock.monotonic() >= deadlineMono)
        throw new MfaError('passcode expired before it could be sent', ErrorCode.SmsExpired, {
          ...(lastError === undefined ? {} : { cause: lastError }),
        });
      let choice = this.pick(tried);
      if (!choice && tried.size > 0) choice = this.pick(new Set());
      if (!choice)
        throw new MfaError('no modem can send now', ErrorCode.SmsNoModem, {
          flags: { retryable: true },
          ...(lastError === undefined ? {} : { cause: lastError }),
        });
      const { slot, wait } = choice;
      if (wait > 0) {
        if (this.clock.monotonic() + wait >= deadlineMono)
          throw new MfaError('rate limit would delay the SMS past its deadline', ErrorCode.SmsRetryable, {
            flags: { retryable: true },
          });
        // Wait, then choose again: another caller may have taken the slot meanwhile.
        await new Promise((r) => setTimeout(r, wait));
        continue;
      }
      slot.reserved++;
      const started = performance.now();
      const before = progress.refs.length;
      try {
        const refs = await slot.modem.send(to, text, opts, progress);
        this.account(slot, started, refs.length - before);
        return { messageRefs: [...refs], modem: slot.modem.name };
      } catch (e) {
        this.account(slot, started, progress.refs.length - before);
        lastError = e;
        attempt++;
        const cls = Modem.classOf(e);
        const outcomeUnknown = e instanceof MfaError && e.flags.outcomeUnknown === true;
        log.warn({ modem: slot.modem.name, attempt, cls, err: describeError(e) }, 'send attempt failed');
        if (outcomeUnknown || cls === 'permanent' || cls === 'expired' || cls === 'other') throw e;
        tried.add(slot.modem);
        if (cls === 'sim') {
          if (this.slots.some((s) => !tried.has(s.modem) && s.modem.canSend())) continue;
          throw e;
        }
        if (attempt >= attemptsFor(cls)) throw e;
        await new Promise((r) => setTimeout(r, this.backoffMs * 2 ** (attempt - 1)));
      } finally {
        slot.reserved--;
      }
    }
  }

  private account(slot: Slot, started: number, parts: number): void {
    if (parts <= 0) return;
    const now = performance.now();
    for (let i = 0; i < parts; i++) slot.recent.push(now);
    const per = (now - started) / parts;
    slot.sendMs = slot.sendMs * 0.7 + per * 0.3;
  }
}
