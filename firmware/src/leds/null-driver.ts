/** No LEDs (a laptop, CI, a box without the board wired): one log line, then nothing. */
import { logger } from '../log.ts';
import type { LedDriver } from './types.ts';

export function nullDriver(reason: string): LedDriver {
  logger('leds').info({ reason }, 'no status LEDs: running without them');
  return { description: `none (${reason})`, set: () => undefined, close: () => Promise.resolve() };
}
