/**
 * sysfs GPIO numbers. Since kernel 6.6 the header's GPIOs no longer start at 0: each gpiochip
 * gets a dynamic base (512 on a Pi 4, 571 for the RP1 on a Pi 5), and the number to export is
 * base + BCM pin. The chip is found by its label, never by a hard-coded name or base.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, MfaError } from '../errors.ts';

export interface GpioChip {
  name: string;
  label: string;
  base: number;
  ngpio: number;
}

const readTrim = (p: string): string | undefined => {
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** Lists ROOT/class/gpio/gpiochip* (root: /sys, or a fake tree in tests). */
export function listGpioChips(sysRoot = '/sys'): GpioChip[] {
  const dir = join(sysRoot, 'class', 'gpio');
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^gpiochip\d+$/.test(n));
  } catch {
    return [];
  }
  const chips: GpioChip[] = [];
  for (const name of names) {
    const label = readTrim(join(dir, name, 'label'));
    const base = Number(readTrim(join(dir, name, 'base')));
    const ngpio = Number(readTrim(join(dir, name, 'ngpio')) ?? '0');
    if (label !== undefined && Number.isInteger(base)) chips.push({ name, label, base, ngpio });
  }
  return chips;
}

/** The sysfs GPIO number of a header pin: the labelled chip's base + the BCM number. */
export function gpioNumber(sysRoot: string, chipLabel: string, bcm: number): number {
  const chip = listGpioChips(sysRoot).find((c) => c.label === chipLabel);
  if (!chip)
    throw new MfaError(
      `no gpiochip labelled ${chipLabel} under ${join(sysRoot, 'class', 'gpio')}`,
      ErrorCode.ConfigInvalid,
      { field: 'gpioChipLabel' },
    );
  if (chip.ngpio > 0 && bcm >= chip.ngpio)
    throw new MfaError(`GPIO ${bcm} is beyond ${chip.label} (${chip.ngpio} lines)`, ErrorCode.ConfigInvalid, {
      field: 'pin',
    });
  return chip.base + bcm;
}
