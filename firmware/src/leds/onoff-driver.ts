/**
 * LEDs and the button on sysfs GPIO through `onoff` (an optional dependency: its epoll module is
 * native). The GPIO numbers come from the board profile and the header chip's base, read under
 * a sysfs root (gpio-chip.ts). Every GPIO this driver exported is unexported on close.
 */
import { logger } from '../log.ts';
import type { BoardProfile } from './boards.ts';
import { gpioNumber } from './gpio-chip.ts';
import { LED_NAMES, type ButtonSource, type LedDriver, type LedName } from './types.ts';

/** The part of onoff's Gpio this driver uses. */
export interface GpioPin {
  writeSync(value: 0 | 1): void;
  readSync(): 0 | 1;
  unexport(): void;
}
export type GpioFactory = (gpio: number, direction: 'out' | 'in', opts?: { activeLow?: boolean }) => GpioPin;

interface OnoffModule {
  Gpio: {
    accessible: boolean;
    new (gpio: number, direction: 'out' | 'in', edge?: 'none', opts?: { activeLow?: boolean }): GpioPin;
  };
}

const log = logger('leds');

/**
 * onoff's Gpio, or undefined when the module is absent (installed without a compiler), fails to
 * load (no epoll build for this CPU) or sees no GPIO (a laptop, CI).
 */
export async function loadOnoff(): Promise<GpioFactory | undefined> {
  // A variable specifier: onoff may be missing, and type-checking must not need it.
  const name = 'onoff';
  let mod: OnoffModule;
  try {
    mod = (await import(name)) as OnoffModule;
  } catch {
    return undefined;
  }
  if (!mod.Gpio.accessible) return undefined;
  return (gpio, direction, opts) => new mod.Gpio(gpio, direction, 'none', opts ?? {});
}

export interface OnoffLeds {
  leds: LedDriver;
  button: ButtonSource | undefined;
}

export function onoffDriver(board: BoardProfile, gpio: GpioFactory, sysRoot = '/sys'): OnoffLeds {
  const exported: GpioPin[] = [];
  const pins = new Map<LedName, GpioPin>();
  const describe = (bcm: number): number => gpioNumber(sysRoot, board.gpioChipLabel, bcm);
  try {
    for (const led of LED_NAMES) {
      const p = gpio(describe(board.leds[led]), 'out');
      exported.push(p);
      pins.set(led, p);
    }
  } catch (e) {
    for (const p of exported) p.unexport();
    throw e;
  }
  let button: ButtonSource | undefined;
  if (board.button !== null) {
    const num = describe(board.button);
    // Wired to ground with the pull-up config.txt sets (gpio=24=ip,pu): low while pressed.
    const p = gpio(num, 'in', { activeLow: true });
    exported.push(p);
    button = {
      description: `GPIO ${board.button} (sysfs ${num})`,
      pressed: () => {
        try {
          return p.readSync() === 1;
        } catch {
          return false;
        }
      },
      close: () => Promise.resolve(),
    };
  }
  const base = describe(0);
  let failed = false;
  const leds: LedDriver = {
    description: `gpio via onoff (${board.name}, ${board.gpioChipLabel} base ${base})`,
    set(led, on) {
      try {
        pins.get(led)?.writeSync(on ? 1 : 0);
      } catch (e) {
        if (!failed) log.warn({ err: String(e), led }, 'LED write failed');
        failed = true;
      }
    },
    close() {
      for (const p of pins.values()) {
        try {
          p.writeSync(0);
        } catch {
          // the pin may already be gone; unexport anyway
        }
      }
      for (const p of exported.splice(0)) {
        try {
          p.unexport();
        } catch (e) {
          log.warn({ err: String(e) }, 'GPIO unexport failed');
        }
      }
      return Promise.resolve();
    },
  };
  return { leds, button };
}
