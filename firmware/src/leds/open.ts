/**
 * Chooses the LED driver for this machine. MFABOX_LEDS picks one (auto | led-class | gpio | none),
 * MFABOX_BOARD names a board profile when the device tree's model is not one we know.
 * auto: the kernel's mfabox-* LEDs if present (what scripts/flash sets up), else onoff on the
 * board's pins, else none with one log line. The reset button comes from /dev/mfabox-button
 * (gpio-key overlay) if present, else from the GPIO pin when the gpio driver is used.
 */
import { existsSync } from 'node:fs';
import { describeError } from '../errors.ts';
import { boardForModel, loadBoards, readModel, type BoardProfile } from './boards.ts';
import { inputButton } from './input-button.ts';
import { ledClassDriver, ledClassPresent } from './led-class-driver.ts';
import { nullDriver } from './null-driver.ts';
import { loadOnoff, onoffDriver, type GpioFactory } from './onoff-driver.ts';
import type { ButtonSource, LedDriver } from './types.ts';

export interface OpenLedsOptions {
  env?: NodeJS.ProcessEnv;
  /** Roots, swapped for fake trees in tests. */
  sysRoot?: string;
  procRoot?: string;
  buttonDevice?: string;
  /** onoff's Gpio (tests pass a fake); default loads onoff if installed. */
  loadGpio?: () => Promise<GpioFactory | undefined>;
}

export interface OpenedLeds {
  driver: LedDriver;
  button: ButtonSource | undefined;
  board: BoardProfile | undefined;
}

export async function openLeds(o: OpenLedsOptions = {}): Promise<OpenedLeds> {
  const env = o.env ?? process.env;
  // MFABOX_SYS_ROOT: a board whose sysfs is mounted elsewhere, and the reliability suite's fake tree.
  const sysRoot = o.sysRoot ?? env.MFABOX_SYS_ROOT ?? '/sys';
  const want = env.MFABOX_LEDS ?? 'auto';
  const buttonDevice = o.buttonDevice ?? '/dev/mfabox-button';
  const evdev = existsSync(buttonDevice) ? inputButton(buttonDevice) : undefined;
  if (want === 'none') return { driver: nullDriver('MFABOX_LEDS=none'), button: evdev, board: undefined };

  const boards = loadBoards();
  const model = readModel(o.procRoot);
  const board = env.MFABOX_BOARD
    ? boards.find((b) => b.id === env.MFABOX_BOARD)
    : model
      ? boardForModel(model, boards)
      : undefined;

  const classRoot = `${sysRoot}/class/leds`;
  if ((want === 'auto' || want === 'led-class') && ledClassPresent(classRoot))
    return { driver: ledClassDriver(classRoot), button: evdev, board };
  if (want === 'led-class')
    return { driver: nullDriver(`no mfabox-* LEDs in ${classRoot}`), button: evdev, board };

  if (!board)
    return {
      driver: nullDriver(
        model ? `board "${model.replace(/\0/g, '').trim()}" has no profile` : 'no GPIO board',
      ),
      button: evdev,
      board,
    };
  const gpio = await (o.loadGpio ?? loadOnoff)();
  if (!gpio) return { driver: nullDriver('onoff not installed or no GPIO access'), button: evdev, board };
  try {
    const r = onoffDriver(board, gpio, sysRoot);
    return { driver: r.leds, button: evdev ?? r.button, board };
  } catch (e) {
    return { driver: nullDriver(`GPIO unavailable: ${describeError(e)}`), button: evdev, board };
  }
}
