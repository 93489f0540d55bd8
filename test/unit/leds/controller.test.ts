/** The LED controller with a fake driver, an injected clock and a health model the test changes. */
import { describe, expect, it } from 'vitest';
import type { HealthSnapshot } from '../../../firmware/src/health/health.ts';
import { createLedController } from '../../../firmware/src/leds/controller.ts';
import { TIMING } from '../../../firmware/src/leds/patterns.ts';
import type { LedDriver, LedName } from '../../../firmware/src/leds/types.ts';
import { snapshot } from './snapshot.ts';

function rig(initial: HealthSnapshot) {
  let now = 0;
  let health = initial;
  const writes: [number, LedName, boolean][] = [];
  let closed = false;
  const driver: LedDriver = {
    description: 'fake',
    set: (led, on) => void writes.push([now, led, on]),
    close: () => Promise.resolve(void (closed = true)),
  };
  let pressed = false;
  let holds = 0;
  const ctl = createLedController({
    driver,
    button: { description: 'fake', pressed: () => pressed, close: () => Promise.resolve() },
    health: () => health,
    clock: { monotonic: () => now },
    timers: { setInterval: () => 1, clearInterval: () => undefined },
    onHold: () => Promise.resolve(void holds++),
  });
  const run = (ms: number): void => {
    for (let end = now + ms; now < end;) {
      now += 50;
      ctl.tick();
    }
  };
  return {
    ctl,
    writes,
    run,
    set: (h: HealthSnapshot) => void (health = h),
    press: (p: boolean) => void (pressed = p),
    holds: () => holds,
    closed: () => closed,
    at: () => now,
    jump: (ms: number) => {
      now += ms;
      ctl.tick();
    },
  };
}

const writesOf = (w: [number, LedName, boolean][], led: LedName, from = 0): boolean[] =>
  w.filter(([t, l]) => l === led && t >= from).map(([, , on]) => on);

describe('LED controller', () => {
  it('writes only changes, and the heartbeat keeps beating', () => {
    const r = rig(snapshot());
    r.ctl.start();
    r.run(2400);
    expect(writesOf(r.writes, 'fault')).toEqual([false]);
    expect(writesOf(r.writes, 'modem')).toEqual([true]);
    expect(writesOf(r.writes, 'app').length).toBeGreaterThanOrEqual(7);
  });

  it('flickers the modem LED when the health model counts an SMS sent', () => {
    const r = rig(snapshot({ sent: 0 }));
    r.ctl.start();
    r.run(1000);
    const from = r.at();
    r.set(snapshot({ sent: 1 }));
    r.run(1000);
    expect(writesOf(r.writes, 'modem', from)).toEqual([false, true]);
  });

  it('flickers RADIUS per request and blinks it fast after repeated bad-secret drops', () => {
    const r = rig(snapshot());
    r.ctl.start();
    r.run(600);
    const from = r.at();
    r.set(snapshot({ requests: 1 }));
    r.run(600);
    expect(writesOf(r.writes, 'radius', from)).toEqual([false, true]);
    const burst = r.at();
    r.set(snapshot({ requests: 4, drops: { 'bad-password': 3 } }));
    r.run(1500);
    expect(writesOf(r.writes, 'radius', burst).length).toBeGreaterThanOrEqual(6);
  });

  it('darkens the heartbeat for a while after a stall of the event loop over 2 s', () => {
    const r = rig(snapshot());
    r.ctl.start();
    r.run(1000);
    r.jump(TIMING.stallMs + 500);
    const after = r.at();
    r.run(3000);
    expect(writesOf(r.writes, 'app', after + 1)).not.toContain(true);
    r.run(4000);
    expect(writesOf(r.writes, 'app', after + 1)).toContain(true);
  });

  it('resets once when the button is held 10 s, then shows the confirmation', async () => {
    const r = rig(snapshot({ modems: [] }));
    r.ctl.start();
    r.press(true);
    r.run(9500);
    expect(r.holds()).toBe(0);
    r.run(1000);
    expect(r.holds()).toBe(1);
    await Promise.resolve();
    const from = r.at();
    r.run(1000);
    // modem (no modem: normally dark) now blinks with the others
    expect(writesOf(r.writes, 'modem', from)).toContain(true);
    r.run(20_000);
    expect(r.holds()).toBe(1);
    r.press(false);
    r.run(100);
    r.press(true);
    r.run(3000);
    expect(r.holds()).toBe(1);
    await r.ctl.stop();
    expect(r.closed()).toBe(true);
  });
});
