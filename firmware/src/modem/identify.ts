/** Who the modem is: ATI and the +CG* identity, the vendor profile that follows, and the SIM's ICCID. */
import type { Logger } from '../log.ts';
import { identityValue, parseIccid } from './at/replies.ts';
import type { AtCommands } from './channel.ts';
import type { ModemProfile } from './profiles.ts';
import type { ModemHealth } from './types.ts';

export type ModemIdentity = NonNullable<ModemHealth['identity']>;

/**
 * Reads the identity and picks the profile (`configured` is a profile name, or 'auto' to match
 * on what the modem reports). No ICCID: the SIM may have been swapped while the modem was away.
 */
export async function identify(
  at: AtCommands,
  configured: string,
  log: Logger,
): Promise<{ identity: ModemIdentity; profile: ModemProfile }> {
  const ati = (await at.tryExec('ATI'))?.lines.join(' ');
  const manufacturer = identityValue((await at.tryExec('AT+CGMI'))?.lines ?? []);
  const model = identityValue((await at.tryExec('AT+CGMM'))?.lines ?? []);
  const revision = identityValue((await at.tryExec('AT+CGMR'))?.lines ?? []);
  const imei = identityValue((await at.tryExec('AT+CGSN'))?.lines ?? []);
  const gcap = (await at.tryExec('AT+GCAP'))?.lines.join(' ');
  // The profiles' schema (zod) loads with the first modem, not before RADIUS answers.
  const { profileByName, selectProfile } = await import('./profiles.ts');
  const profile =
    configured === 'auto' ? selectProfile({ ati, manufacturer, model, gcap }) : profileByName(configured);
  log.info({ profile: profile.name, manufacturer, model, revision }, 'modem identified');
  return {
    identity: {
      ...(manufacturer ? { manufacturer } : {}),
      ...(model ? { model } : {}),
      ...(revision ? { revision } : {}),
      ...(imei ? { imei } : {}),
    },
    profile,
  };
}

/** The SIM's ICCID, with the profile's own commands first (readable before the PIN on most modems). */
export async function readIccid(
  at: AtCommands,
  profile: ModemProfile | undefined,
): Promise<string | undefined> {
  for (const c of [...(profile?.iccid ?? []), 'AT+CCID']) {
    const r = await at.tryExec(c);
    const iccid = r ? parseIccid(r.lines) : undefined;
    if (iccid) return iccid;
  }
  return undefined;
}
