/**
 * What each status LED shows, computed from the one health model (pure: no timers, no IO).
 * The table in hardware/README.md is this file in words; test/unit/leds/patterns.test.ts holds
 * both to it.
 */
import type { HealthSnapshot } from '../health/health.ts';
import type { ModemState } from '../modem/types.ts';
import type { LedName } from './types.ts';

export type LedStates = Record<LedName, boolean>;

/** Pattern timings in ms. */
export const TIMING = {
  /** app heartbeat: two short beats per period, like a pulse. */
  heartbeatPeriod: 1200,
  heartbeatBeat: 100,
  /** slow blink (modem initialising or searching): on, then off, each this long. */
  slowHalf: 1000,
  /** fast blink (a failure that needs the admin): on, then off, each this long. */
  fastHalf: 125,
  /** a flicker per SMS or RADIUS request: the LED goes dark this long. */
  flicker: 80,
  /** The event loop counts as stalled after this long without a tick. */
  stallMs: 2000,
  /** Drops that make the RADIUS LED blink fast: this many within the window. */
  dropBurst: 3,
  dropWindow: 60_000,
  /** The button's confirmation: every LED blinks fast together this long. */
  confirm: 3000,
} as const;

/** What the patterns need beyond the snapshot: recent events, measured by the controller. */
export interface LedEvents {
  /** Monotonic ms of the latest SMS sent and RADIUS request seen (undefined: none yet). */
  lastSmsAt?: number | undefined;
  lastRequestAt?: number | undefined;
  /** Monotonic ms of recent drops that point at a misconfigured NAS (bad secret, no Message-Authenticator). */
  recentDrops: readonly number[];
  /** The longest gap between the controller's ticks seen lately, in ms: an event-loop stall. */
  loopStallMs: number;
  /** Until when (monotonic ms) the admin-password reset confirmation shows. */
  confirmUntil?: number | undefined;
}

/** Drop reasons that mean a NAS with the wrong secret or without Message-Authenticator. */
export const MISCONFIGURED_DROPS = [
  'bad-password',
  'bad-message-authenticator',
  'missing-message-authenticator',
  'proxy-state-without-message-authenticator',
  'bad-accounting-authenticator',
] as const;

const SENDABLE: ReadonlySet<ModemState> = new Set(['registered', 'sending']);
const BROKEN: ReadonlySet<ModemState> = new Set([
  'failed',
  'pin-needed',
  'pin-rejected',
  'sms-refused',
  'no-sim',
]);
const STARTING: ReadonlySet<ModemState> = new Set(['initialising', 'searching']);

const blink = (t: number, half: number): boolean => Math.floor(t / half) % 2 === 0;
const within = (t: number, at: number | undefined, ms: number): boolean =>
  at !== undefined && t >= at && t - at < ms;

export function heartbeat(t: number): boolean {
  const p = ((t % TIMING.heartbeatPeriod) + TIMING.heartbeatPeriod) % TIMING.heartbeatPeriod;
  const beat = TIMING.heartbeatBeat;
  return p < beat || (p >= 2 * beat && p < 3 * beat);
}

export type ModemLed = 'off' | 'slow' | 'solid' | 'fast';

/** The best modem decides: one registered modem means SMS goes out. */
export function modemLed(s: HealthSnapshot): ModemLed {
  const states = s.modems.map((m) => m.state).filter((st) => st !== 'absent');
  if (states.length === 0) return 'off';
  if (states.some((st) => SENDABLE.has(st))) return 'solid';
  if (states.some((st) => BROKEN.has(st))) return 'fast';
  if (states.some((st) => STARTING.has(st))) return 'slow';
  return 'off';
}

export type RadiusLed = 'off' | 'solid' | 'fast';

export function radiusLed(s: HealthSnapshot, e: LedEvents, t: number): RadiusLed {
  if (s.radius.listening.length === 0) return 'fast'; // configured but not bound: a bind failure
  const recent = e.recentDrops.filter((d) => t - d < TIMING.dropWindow && d <= t);
  return recent.length >= TIMING.dropBurst ? 'fast' : 'solid';
}

/** Fault: any component failed (the box cannot do a login end to end) or the clock unsynced. */
export function faultLed(s: HealthSnapshot): boolean {
  return (
    s.status === 'down' ||
    s.clock.synced === false ||
    s.directory.state === 'down' ||
    !s.store.writable ||
    s.modems.some((m) => m.state === 'failed')
  );
}

export function ledStates(s: HealthSnapshot, e: LedEvents, t: number): LedStates {
  if (e.confirmUntil !== undefined && t < e.confirmUntil) {
    const on = blink(t, TIMING.fastHalf);
    return { app: on, modem: on, radius: on, fault: on };
  }
  const modem = modemLed(s);
  const radius = radiusLed(s, e, t);
  const flickerSms = within(t, e.lastSmsAt, TIMING.flicker);
  const flickerReq = within(t, e.lastRequestAt, TIMING.flicker);
  return {
    app: e.loopStallMs <= TIMING.stallMs && heartbeat(t),
    modem:
      modem === 'solid'
        ? !flickerSms
        : modem === 'fast'
          ? blink(t, TIMING.fastHalf)
          : modem === 'slow'
            ? blink(t, TIMING.slowHalf)
            : false,
    radius: radius === 'solid' ? !flickerReq : radius === 'fast' ? blink(t, TIMING.fastHalf) : false,
    fault: faultLed(s),
  };
}
