/**
 * Board profiles (data in hardware/boards/*.json): which BCM pin drives each LED and the button,
 * and the label of the gpiochip that carries the 40-pin header.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ErrorCode, MfaError } from '../errors.ts';
import { hardwareDir } from '../hardware-dir.ts';

const bcm = z.number().int().min(0).max(53);

export const boardSchema = z.object({
  id: z.string().regex(/^[a-z0-9-]+$/),
  name: z.string(),
  /** Matched against the start of /proc/device-tree/model. */
  modelPrefix: z.string(),
  /** The gpiochip `label` of the header: pinctrl-rp1 (Pi 5), pinctrl-bcm2711 (Pi 4, CM4), pinctrl-bcm2835. */
  gpioChipLabel: z.string(),
  leds: z.object({ app: bcm, modem: bcm, radius: bcm, fault: bcm }),
  /** The reset button (to ground, internal pull-up); null when the board has none wired. */
  button: bcm.nullable(),
  notes: z.string().optional(),
});
export type BoardProfile = z.infer<typeof boardSchema>;

/** Every profile; a malformed one is a build error, so it throws naming the file. */
export function loadBoards(dir = hardwareDir('boards')): BoardProfile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const parsed = boardSchema.safeParse(JSON.parse(readFileSync(join(dir, f), 'utf8')));
      if (!parsed.success)
        throw new MfaError(`board profile ${f}: ${parsed.error.message}`, ErrorCode.ConfigInvalid, {
          field: f,
        });
      return parsed.data;
    });
}

/** The profile for a device-tree model string ("Raspberry Pi 5 Model B Rev 1.0"), if supported. */
export function boardForModel(model: string, boards = loadBoards()): BoardProfile | undefined {
  const m = model.replace(/\0/g, '').trim();
  // Longest prefix first: "Raspberry Pi 3 Model B Plus" must not match a plain 3B profile.
  return [...boards]
    .sort((a, b) => b.modelPrefix.length - a.modelPrefix.length)
    .find((b) => m.startsWith(b.modelPrefix));
}

/** Reads the running board's model (procRoot: /proc, or a fake tree in tests). */
export function readModel(procRoot = '/proc'): string | undefined {
  try {
    return readFileSync(join(procRoot, 'device-tree', 'model'), 'utf8');
  } catch {
    return undefined;
  }
}
