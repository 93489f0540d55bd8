/**
 * Drives the status LEDs from the health model: samples a snapshot every `sampleMs`, notices
 * events between samples (an SMS sent, a RADIUS request, drops from a misconfigured NAS), and
 * every `tickMs` writes the LEDs whose state changed. It also watches the reset button: held
 * for `holdMs`, it calls `onHold` once and shows the confirmation pattern.
 */
import type { Clock } from '../clock.ts';
import type { HealthSnapshot } from '../health/health.ts';
import { logger } from '../log.ts';
import { MISCONFIGURED_DROPS, TIMING, ledStates, type LedEvents, type LedStates } from './patterns.ts';
import { LED_NAMES, type ButtonSource, type LedDriver } from './types.ts';

export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(t: unknown): void;
}

export interface LedControllerOptions {
  driver: LedDriver;
  button?: ButtonSource | undefined;
  health(): HealthSnapshot;
  clock: Pick<Clock, 'monotonic'>;
  timers?: Timers;
  /** [20...500] ms, default 50: pattern resolution. */
  tickMs?: number;
  /** [100...5000] ms, default 500: how often the health snapshot is read. */
  sampleMs?: number;
  /** [1000...60000] ms, default 10000: how long the button must be held. */
  holdMs?: number;
  /** Called once per hold; the confirmation pattern shows when it resolves. */
  onHold?: () => Promise<void>;
}

export interface LedController {
  start(): void;
  /** One step at the clock's current time (the timer calls it; tests call it directly). */
  tick(): void;
  /** The states last written. */
  current(): LedStates;
  stop(): Promise<void>;
}

const log = logger('leds');

const sum = (xs: Iterable<number>): number => {
  let s = 0;
  for (const x of xs) s += x;
  return s;
};

export function createLedController(o: LedControllerOptions): LedController {
  const tickMs = o.tickMs ?? 50;
  const sampleMs = o.sampleMs ?? 500;
  const holdMs = o.holdMs ?? 10_000;
  const timers: Timers = o.timers ?? {
    setInterval: (fn, ms) => setInterval(fn, ms).unref(),
    clearInterval: (t) => clearInterval(t as NodeJS.Timeout),
  };
  let timer: unknown;
  let snap: HealthSnapshot | undefined;
  let sampledAt = -Infinity;
  let lastTick: number | undefined;
  let stallSeenAt = -Infinity;
  let stallMs = 0;
  let prevSms: number | undefined;
  let prevRequests: number | undefined;
  let prevDrops: number | undefined;
  let pressedAt: number | undefined;
  let fired = false;
  const events: LedEvents = { recentDrops: [], loopStallMs: 0 };
  const written: LedStates = { app: false, modem: false, radius: false, fault: false };
  let first = true;

  const sample = (t: number): void => {
    try {
      snap = o.health();
    } catch (e) {
      log.warn({ err: String(e) }, 'health unreadable for the LEDs');
      return;
    }
    sampledAt = t;
    const sms = sum(snap.modems.map((m) => m.sentCount));
    const rows = Object.values(snap.radius.counters);
    const requests = sum(rows.map((r) => r.requests ?? 0));
    const drops = sum(rows.flatMap((r) => MISCONFIGURED_DROPS.map((d) => r[`drops.${d}`] ?? 0)));
    if (prevSms !== undefined && sms > prevSms) events.lastSmsAt = t;
    if (prevRequests !== undefined && requests > prevRequests) events.lastRequestAt = t;
    if (prevDrops !== undefined && drops > prevDrops)
      for (let i = 0; i < Math.min(drops - prevDrops, TIMING.dropBurst); i++)
        events.recentDrops = [...events.recentDrops, t];
    events.recentDrops = events.recentDrops.filter((d) => t - d < TIMING.dropWindow);
    prevSms = sms;
    prevRequests = requests;
    prevDrops = drops;
  };

  const watchButton = (t: number): void => {
    if (!o.button) return;
    if (!o.button.pressed()) {
      pressedAt = undefined;
      fired = false;
      return;
    }
    pressedAt ??= t;
    if (fired || t - pressedAt < holdMs) return;
    fired = true;
    log.warn('reset button held: resetting the admin password');
    const done = o.onHold?.() ?? Promise.resolve();
    done.then(
      () => {
        events.confirmUntil = o.clock.monotonic() + TIMING.confirm;
      },
      (e: unknown) => log.error({ err: String(e) }, 'admin password reset from the button failed'),
    );
  };

  const tick = (): void => {
    const t = o.clock.monotonic();
    // A gap far beyond the tick interval means the event loop was stalled; the heartbeat
    // stays dark for a while after it so the stall is visible, not just a frozen LED.
    if (lastTick !== undefined && t - lastTick - tickMs > TIMING.stallMs) {
      stallSeenAt = t;
      stallMs = t - lastTick;
    }
    lastTick = t;
    events.loopStallMs = t - stallSeenAt < 5000 ? stallMs : 0;
    if (t - sampledAt >= sampleMs || !snap) sample(t);
    watchButton(t);
    if (!snap) return;
    const next = ledStates(snap, events, t);
    for (const led of LED_NAMES) {
      if (first || next[led] !== written[led]) {
        o.driver.set(led, next[led]);
        written[led] = next[led];
      }
    }
    first = false;
  };

  return {
    start() {
      if (timer !== undefined) return;
      log.info({ driver: o.driver.description, button: o.button?.description ?? 'none' }, 'status LEDs on');
      tick();
      timer = timers.setInterval(tick, tickMs);
    },
    tick,
    current: () => ({ ...written }),
    async stop() {
      if (timer !== undefined) timers.clearInterval(timer);
      timer = undefined;
      await o.button?.close();
      await o.driver.close();
    },
  };
}
