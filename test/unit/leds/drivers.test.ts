/**
 * The LED drivers against fake sysfs trees in temp directories: gpiochip labels and bases
 * (including a Pi 5's RP1 at 571 beside another chip at 512), the kernel LED class, and the
 * evdev reset button.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { boardForModel, loadBoards } from '../../../firmware/src/leds/boards.ts';
import { gpioNumber, listGpioChips } from '../../../firmware/src/leds/gpio-chip.ts';
import { applyInputEvents, inputButton } from '../../../firmware/src/leds/input-button.ts';
import { ledClassDriver, ledClassPresent } from '../../../firmware/src/leds/led-class-driver.ts';
import { onoffDriver, type GpioFactory } from '../../../firmware/src/leds/onoff-driver.ts';
import { openLeds } from '../../../firmware/src/leds/open.ts';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'mfabox-sysfs-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function chip(name: string, label: string, base: number, ngpio: number): void {
  const d = join(root, 'class/gpio', name);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'label'), `${label}\n`);
  writeFileSync(join(d, 'base'), `${base}\n`);
  writeFileSync(join(d, 'ngpio'), `${ngpio}\n`);
}

/** A Gpio that behaves like onoff's on a fake tree: export, direction, value, unexport. */
function fakeGpio(): {
  factory: GpioFactory;
  pins: Map<number, { dir: string; value: number; exported: boolean }>;
} {
  const pins = new Map<number, { dir: string; value: number; exported: boolean }>();
  const factory: GpioFactory = (n, dir) => {
    const p = { dir, value: 0, exported: true };
    pins.set(n, p);
    return {
      writeSync: (v) => void (p.value = v),
      readSync: () => (p.value ? 1 : 0),
      unexport: () => void (p.exported = false),
    };
  };
  return { factory, pins };
}

describe('gpiochip base by label', () => {
  it('finds a Pi 5 header at base 571, not the 512 of another chip', () => {
    chip('gpiochip512', 'gpio-brcmstb@107d508500', 512, 32);
    chip('gpiochip544', 'gpio-brcmstb@107d517c00', 544, 15);
    chip('gpiochip571', 'pinctrl-rp1', 571, 54);
    expect(listGpioChips(root)).toHaveLength(3);
    expect(gpioNumber(root, 'pinctrl-rp1', 17)).toBe(588);
  });
  it('finds a Pi 4 header at 512 and an old kernel at 0, and names a missing chip', () => {
    chip('gpiochip512', 'pinctrl-bcm2711', 512, 58);
    expect(gpioNumber(root, 'pinctrl-bcm2711', 27)).toBe(539);
    expect(() => gpioNumber(root, 'pinctrl-rp1', 1)).toThrow(/no gpiochip labelled pinctrl-rp1/);
    rmSync(join(root, 'class'), { recursive: true });
    chip('gpiochip0', 'pinctrl-bcm2835', 0, 54);
    expect(gpioNumber(root, 'pinctrl-bcm2835', 22)).toBe(22);
    expect(() => gpioNumber(root, 'pinctrl-bcm2835', 60)).toThrow(/beyond/);
  });
});

describe('board profiles', () => {
  it('has the five boards, each with four LED pins, and matches device-tree models', () => {
    const boards = loadBoards();
    expect(boards.map((b) => b.id).sort()).toEqual(['cm4', 'pi3bplus', 'pi4b', 'pi5', 'pizero2w']);
    expect(boardForModel('Raspberry Pi 5 Model B Rev 1.0\0', boards)?.gpioChipLabel).toBe('pinctrl-rp1');
    expect(boardForModel('Raspberry Pi 4 Model B Rev 1.4', boards)?.id).toBe('pi4b');
    expect(boardForModel('Raspberry Pi 3 Model B Plus Rev 1.3', boards)?.id).toBe('pi3bplus');
    expect(boardForModel('Raspberry Pi Zero 2 W Rev 1.0', boards)?.id).toBe('pizero2w');
    expect(boardForModel('Raspberry Pi Compute Module 4 Rev 1.0', boards)?.id).toBe('cm4');
    expect(boardForModel('Raspberry Pi 3 Model B Rev 1.2', boards)).toBeUndefined();
    for (const b of boards) expect(new Set(Object.values(b.leds)).size).toBe(4);
  });
});

describe('onoff driver', () => {
  it('drives base + BCM pins, reads the button, and unexports everything on close', async () => {
    chip('gpiochip512', 'gpio-brcmstb@107d508500', 512, 32);
    chip('gpiochip571', 'pinctrl-rp1', 571, 54);
    const pi5 = loadBoards().find((b) => b.id === 'pi5');
    if (!pi5) throw new Error('no pi5 profile');
    const g = fakeGpio();
    const { leds, button } = onoffDriver(pi5, g.factory, root);
    expect(leds.description).toContain('base 571');
    leds.set('modem', true);
    expect(g.pins.get(571 + pi5.leds.modem)).toMatchObject({ dir: 'out', value: 1 });
    expect(g.pins.get(571 + (pi5.button ?? -1))?.dir).toBe('in');
    expect(button?.pressed()).toBe(false);
    g.pins.get(571 + (pi5.button ?? -1))!.value = 1;
    expect(button?.pressed()).toBe(true);
    await leds.close();
    expect([...g.pins.values()].every((p) => !p.exported)).toBe(true);
    expect(g.pins.get(571 + pi5.leds.modem)?.value).toBe(0);
  });
});

describe('LED-class driver', () => {
  const mk = (name: string): string => {
    const d = join(root, 'class/leds', name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'brightness'), '0');
    writeFileSync(join(d, 'max_brightness'), '255');
    writeFileSync(join(d, 'trigger'), 'none [heartbeat] timer');
    return d;
  };
  it('clears the triggers, writes brightness, and switches all off on close', async () => {
    const dirs = ['app', 'modem', 'radius', 'fault'].map((n) => mk(`mfabox-${n}`));
    expect(ledClassPresent(join(root, 'class/leds'))).toBe(true);
    const d = ledClassDriver(join(root, 'class/leds'));
    expect(readFileSync(join(dirs[0]!, 'trigger'), 'utf8')).toBe('none');
    d.set('radius', true);
    expect(readFileSync(join(dirs[2]!, 'brightness'), 'utf8')).toBe('255');
    await d.close();
    expect(readFileSync(join(dirs[2]!, 'brightness'), 'utf8')).toBe('0');
  });
  it('is absent unless all four LEDs exist', () => {
    mk('mfabox-app');
    expect(ledClassPresent(join(root, 'class/leds'))).toBe(false);
  });
});

describe('openLeds', () => {
  it('falls back to the null driver with no GPIO (a laptop, CI)', async () => {
    const r = await openLeds({ env: {}, sysRoot: root, procRoot: root, buttonDevice: join(root, 'none') });
    expect(r.driver.description).toMatch(/^none/);
    expect(r.button).toBeUndefined();
  });
  it('prefers the kernel LEDs, then onoff on the detected board', async () => {
    mkdirSync(join(root, 'device-tree'), { recursive: true });
    writeFileSync(join(root, 'device-tree/model'), 'Raspberry Pi 4 Model B Rev 1.5\0');
    chip('gpiochip512', 'pinctrl-bcm2711', 512, 58);
    const g = fakeGpio();
    const opts = {
      env: {},
      sysRoot: root,
      procRoot: root,
      buttonDevice: join(root, 'none'),
      loadGpio: () => Promise.resolve(g.factory),
    };
    const gpio = await openLeds(opts);
    expect(gpio.driver.description).toContain('base 512');
    expect(gpio.board?.id).toBe('pi4b');
    await gpio.driver.close();
    for (const n of ['app', 'modem', 'radius', 'fault']) {
      mkdirSync(join(root, 'class/leds', `mfabox-${n}`), { recursive: true });
      writeFileSync(join(root, 'class/leds', `mfabox-${n}`, 'brightness'), '0');
    }
    expect((await openLeds(opts)).driver.description).toMatch(/^led-class/);
    expect((await openLeds({ ...opts, env: { MFABOX_LEDS: 'none' } })).driver.description).toMatch(/^none/);
  });
});

describe('evdev reset button', () => {
  const ev = (type: number, code: number, value: number): Buffer => {
    const b = Buffer.alloc(24);
    b.writeUInt16LE(type, 16);
    b.writeUInt16LE(code, 18);
    b.writeInt32LE(value, 20);
    return b;
  };
  it('tracks press and release across split chunks, ignoring sync and autorepeat', () => {
    const all = Buffer.concat([ev(1, 408, 1), ev(0, 0, 0), ev(1, 408, 2)]);
    const a = applyInputEvents(all.subarray(0, 30), false, 24);
    expect(a.pressed).toBe(true);
    const b = applyInputEvents(Buffer.concat([a.rest, all.subarray(30)]), a.pressed, 24);
    expect(b).toEqual({ pressed: true, rest: Buffer.alloc(0) });
    expect(applyInputEvents(ev(1, 408, 0), true, 24).pressed).toBe(false);
  });
  it('reads a device node', async () => {
    const f = join(root, 'event0');
    writeFileSync(f, Buffer.concat([ev(1, 408, 1), ev(0, 0, 0)]));
    const b = inputButton(f);
    await new Promise((r) => setTimeout(r, 100));
    expect(b.pressed()).toBe(true);
    await b.close();
  });
});
