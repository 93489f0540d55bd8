/** The LED table of hardware/README.md, held against the pure pattern function. */
import { describe, expect, it } from 'vitest';
import {
  TIMING,
  heartbeat,
  ledStates,
  modemLed,
  type LedEvents,
} from '../../../firmware/src/leds/patterns.ts';
import type { LedName } from '../../../firmware/src/leds/types.ts';
import { snapshot } from './snapshot.ts';

const quiet: LedEvents = { recentDrops: [], loopStallMs: 0 };

/** The LED's on/off over [from, to) sampled every 25 ms, as a string of 1s and 0s. */
function trace(led: LedName, s: ReturnType<typeof snapshot>, e: LedEvents, from: number, to: number): string {
  let out = '';
  for (let t = from; t < to; t += 25) out += ledStates(s, e, t)[led] ? '1' : '0';
  return out;
}
const ons = (tr: string): number => tr.split('').filter((c) => c === '1').length;
const edges = (tr: string): number => tr.split('').filter((c, i) => i > 0 && c !== tr[i - 1]).length;

describe('app LED', () => {
  it('beats twice per period while the loop is healthy', () => {
    const tr = trace('app', snapshot(), quiet, 0, TIMING.heartbeatPeriod);
    expect(tr).toMatch(/^1+0+1+0+$/); // on, off, on, off
    expect(ons(tr) * 25).toBe(2 * TIMING.heartbeatBeat);
    expect(heartbeat(0)).toBe(true);
    expect(heartbeat(150)).toBe(false);
  });
  it('stops after an event-loop stall over 2 s', () => {
    expect(ons(trace('app', snapshot(), { ...quiet, loopStallMs: 2500 }, 0, 5000))).toBe(0);
    expect(ons(trace('app', snapshot(), { ...quiet, loopStallMs: 1900 }, 0, 5000))).toBeGreaterThan(0);
  });
});

describe('modem LED', () => {
  it('is off with no modem', () => {
    expect(modemLed(snapshot({ modems: [] }))).toBe('off');
    expect(ons(trace('modem', snapshot({ modems: ['absent'] }), quiet, 0, 4000))).toBe(0);
  });
  it('blinks slowly while initialising or searching', () => {
    for (const st of ['initialising', 'searching'] as const) {
      const tr = trace('modem', snapshot({ modems: [st] }), quiet, 0, 4000);
      expect(edges(tr)).toBe(3); // 1 s on, 1 s off
      expect(ons(tr)).toBe(80);
    }
  });
  it('is solid when registered, with a short flicker per SMS sent', () => {
    expect(ons(trace('modem', snapshot(), quiet, 0, 2000))).toBe(80);
    const tr = trace('modem', snapshot(), { ...quiet, lastSmsAt: 1000 }, 0, 2000);
    expect(tr.slice(40, 40 + TIMING.flicker / 25)).toMatch(/^0+$/);
    expect(ons(tr)).toBe(80 - Math.ceil(TIMING.flicker / 25));
  });
  it('blinks fast when failed, a PIN is needed or SMS is refused', () => {
    for (const st of ['failed', 'pin-needed', 'pin-rejected', 'sms-refused'] as const) {
      const tr = trace('modem', snapshot({ modems: [st] }), quiet, 0, 1000);
      expect(edges(tr), st).toBe(7); // 125 ms halves
    }
  });
  it('shows the best modem: one registered among failed ones is solid', () => {
    expect(modemLed(snapshot({ modems: ['failed', 'registered'] }))).toBe('solid');
  });
});

describe('RADIUS LED', () => {
  it('is solid while listening, with a flicker per request', () => {
    expect(ons(trace('radius', snapshot(), quiet, 0, 1000))).toBe(40);
    const tr = trace('radius', snapshot(), { ...quiet, lastRequestAt: 500 }, 0, 1000);
    expect(tr.slice(20, 20 + TIMING.flicker / 25)).toMatch(/^0+$/);
  });
  it('blinks fast on repeated drops from a misconfigured NAS, and on a bind failure', () => {
    const drops = { ...quiet, recentDrops: [100, 200, 300] };
    expect(edges(trace('radius', snapshot(), drops, 1000, 2000))).toBe(7);
    expect(ons(trace('radius', snapshot(), { ...quiet, recentDrops: [100, 200] }, 1000, 2000))).toBe(40);
    // a minute later the burst is over
    expect(ons(trace('radius', snapshot(), drops, 61_000, 62_000))).toBe(40);
    expect(edges(trace('radius', snapshot({ listening: false }), quiet, 0, 1000))).toBe(7);
  });
});

describe('fault LED', () => {
  it('is on while a component is failed or the clock is unsynced, off otherwise', () => {
    const on = (s: ReturnType<typeof snapshot>): boolean => ledStates(s, quiet, 0).fault;
    expect(on(snapshot())).toBe(false);
    expect(on(snapshot({ synced: 'unknown' }))).toBe(false);
    expect(on(snapshot({ synced: false }))).toBe(true);
    expect(on(snapshot({ status: 'down' }))).toBe(true);
    expect(on(snapshot({ directory: 'down' }))).toBe(true);
    expect(on(snapshot({ modems: ['registered', 'failed'] }))).toBe(true);
  });
});

describe('reset confirmation', () => {
  it('blinks every LED fast together until it ends', () => {
    const e = { ...quiet, confirmUntil: 1000 };
    for (let t = 0; t < 1000; t += 25) {
      const s = ledStates(snapshot({ modems: [] }), e, t);
      expect(new Set(Object.values(s)).size).toBe(1);
    }
    expect(edges(trace('fault', snapshot(), e, 0, 1000))).toBe(7);
    expect(ledStates(snapshot(), e, 1000).fault).toBe(false);
  });
});

describe('hardware/README.md LED table', () => {
  it('states the timings patterns.ts uses', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../../hardware/README.md', import.meta.url), 'utf8');
    expect(doc).toContain(`two short beats every ${TIMING.heartbeatPeriod / 1000} s`);
    expect(doc).toContain(`stalled for over ${TIMING.stallMs / 1000} s`);
    expect(doc).toContain(`slow blink (${TIMING.slowHalf / 1000} s on, ${TIMING.slowHalf / 1000} s off)`);
    expect(doc).toContain(`fast blink (${TIMING.fastHalf} ms)`);
    expect(doc).toContain(`(${TIMING.dropBurst} in a minute)`);
    expect(TIMING.dropWindow).toBe(60_000);
    expect(doc).toContain(`fast blink together for ${TIMING.confirm / 1000} s`);
  });
});
