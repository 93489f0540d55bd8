/**
 * Vendor profiles: quirks as data (hardware/modems/*.json), picked by what ATI / AT+CGMI /
 * AT+CGMM / AT+GCAP report, or named in config. Adding a modem is a JSON file, not code.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ErrorCode, MfaError } from '../errors.ts';
import { hardwareDir } from '../hardware-dir.ts';

export const profileSchema = z.object({
  name: z.string().min(1),
  title: z.string(),
  /** Case-insensitive substrings: every listed key must match one of its values. Empty = matches nothing. */
  match: z.object({
    manufacturer: z.array(z.string()).optional(),
    model: z.array(z.string()).optional(),
    gcap: z.array(z.string()).optional(),
  }),
  /** vendor:product as lsusb prints it, for the dashboard and udev rules. */
  usbIds: z.array(z.string()),
  generation: z.enum(['2g', '3g', 'lte-cat1', 'lte-cat4', 'cdma', 'unknown']),
  recommended: z.boolean(),
  /** simulator: exercised against the simulator profile; unverified: from manuals only. */
  verified: z.enum(['hardware', 'simulator', 'unverified']),
  /** Sent after ATE0/V1/+CMEE; failures are logged and ignored. */
  init: z.array(z.string()),
  /** URCs the box does not need (signal, mode, data-flow reports), switched off after init. */
  disableUrcs: z.array(z.string()),
  /** How to read the PIN tries left; the first capture group is the number. null: cannot tell. */
  triesLeft: z.object({ command: z.string(), pattern: z.string() }).nullable(),
  /** Commands that may report the SIM's ICCID, tried in order. */
  iccid: z.array(z.string()),
  /** URC names that mean "the modem just restarted": re-initialise. */
  bootUrcs: z.array(z.string()),
  quirks: z.object({
    /** +CPIN? may come without a final OK. */
    cpinNoOk: z.boolean(),
    /** No PDU mode: send with AT+CMGF=1. */
    textModeOnly: z.boolean(),
    /** +CNMI settings to try in order (mode,mt,bm,ds,bfr); the first accepted wins. */
    cnmiFallbacks: z.array(z.string()).min(1),
    /** Status reports routed with +CDS must be acknowledged with AT+CNMA. */
    needsCnma: z.boolean(),
    /** ^BOOT is a periodic heartbeat on this vendor, not a reset. */
    periodicBootUrc: z.boolean(),
    /** After AT+CFUN=1,1 the device may come back as a CD-ROM without an AT port. */
    resetMayModeswitch: z.boolean(),
    echoIgnoresAte0: z.boolean(),
  }),
  notes: z.string(),
});

export type ModemProfile = z.infer<typeof profileSchema>;

export interface IdentityReport {
  /** ATI output, joined. */
  ati?: string;
  manufacturer?: string;
  model?: string;
  gcap?: string;
}

/** Finds hardware/modems from the source tree or a build under dist/. */
export function profilesDir(): string {
  return hardwareDir('modems');
}

let cache: ModemProfile[] | undefined;

/** Loads and validates every profile (cached). A malformed file is a build error, so it throws. */
export function loadProfiles(dir = profilesDir()): ModemProfile[] {
  if (cache && dir === profilesDir()) return cache;
  const list = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const parsed = profileSchema.safeParse(JSON.parse(readFileSync(join(dir, f), 'utf8')));
      if (!parsed.success)
        throw new MfaError(`modem profile ${f}: ${parsed.error.message}`, ErrorCode.ConfigInvalid, {
          field: f,
        });
      return parsed.data;
    });
  cache = list;
  return list;
}

export function profileByName(name: string, profiles = loadProfiles()): ModemProfile {
  const p = profiles.find((x) => x.name === name);
  if (!p)
    throw new MfaError(
      `unknown modem profile "${name}" (known: ${profiles.map((x) => x.name).join(', ')})`,
      ErrorCode.ConfigInvalid,
      { field: 'modems.profile' },
    );
  return p;
}

function any(hay: string | undefined, needles: string[] | undefined): boolean | undefined {
  if (needles === undefined) return undefined;
  if (hay === undefined) return false;
  const h = hay.toLowerCase();
  return needles.some((n) => h.includes(n.toLowerCase()));
}

/**
 * The most specific profile whose every match key matches; generic-3gpp otherwise. The model is
 * looked for in +CGMM and in ATI (Huawei's ATI says "Model: E3372"), the maker in +CGMI and ATI.
 */
export function selectProfile(id: IdentityReport, profiles = loadProfiles()): ModemProfile {
  let best: { p: ModemProfile; score: number } | undefined;
  for (const p of profiles) {
    const checks = [
      any(`${id.manufacturer ?? ''} ${id.ati ?? ''}`, p.match.manufacturer),
      any(`${id.model ?? ''} ${id.ati ?? ''}`, p.match.model),
      any(id.gcap, p.match.gcap),
    ].filter((c): c is boolean => c !== undefined);
    if (checks.length === 0 || checks.includes(false)) continue;
    if (!best || checks.length > best.score) best = { p, score: checks.length };
  }
  return best?.p ?? profileByName('generic-3gpp', profiles);
}
