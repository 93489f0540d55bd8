/**
 * LEDs through the kernel's LED class (/sys/class/leds/<name>/brightness and trigger), as
 * `dtoverlay=gpio-led` creates them: no native module, and the sandbox opens exactly these
 * directories (scripts/mfabox.service, hardware/udev/90-mfabox-leds.rules). This is the driver
 * scripts/flash sets up.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { logger } from '../log.ts';
import { LED_NAMES, type LedDriver, type LedName } from './types.ts';

const log = logger('leds');

/** The kernel LED name of each status LED (the gpio-led overlay's `label=`). */
export const ledClassName = (led: LedName): string => `mfabox-${led}`;

/** True when all four mfabox-* LEDs exist under ROOT (default /sys/class/leds). */
export function ledClassPresent(root = '/sys/class/leds'): boolean {
  return LED_NAMES.every((l) => existsSync(join(root, ledClassName(l), 'brightness')));
}

export function ledClassDriver(root = '/sys/class/leds'): LedDriver {
  const max = new Map<LedName, string>();
  for (const led of LED_NAMES) {
    const dir = join(root, ledClassName(led));
    let m = '1';
    try {
      m = readFileSync(join(dir, 'max_brightness'), 'utf8').trim() || '1';
    } catch {
      // absent on some kernels: 1 is on for a GPIO LED
    }
    max.set(led, m);
    // The app drives every change itself; a trigger left from the overlay (default-on,
    // heartbeat) would fight it.
    try {
      writeFileSync(join(dir, 'trigger'), 'none');
    } catch (e) {
      log.warn({ err: String(e), led }, 'could not clear the LED trigger');
    }
  }
  let failed = false;
  const write = (led: LedName, value: string): void => {
    try {
      writeFileSync(join(root, ledClassName(led), 'brightness'), value);
    } catch (e) {
      if (!failed) log.warn({ err: String(e), led }, 'LED write failed');
      failed = true;
    }
  };
  return {
    description: `led-class (${root}/mfabox-*)`,
    set: (led, on) => write(led, on ? (max.get(led) ?? '1') : '0'),
    close() {
      for (const led of LED_NAMES) write(led, '0');
      return Promise.resolve();
    },
  };
}
