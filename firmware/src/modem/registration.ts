/** Network registration as the modem reports it: +CREG (CS), +CGREG (PS), +CEREG (EPS), signal, operator. */
import { isRegistered, isRoaming, parseCops, parseCsq, parseReg, type Registration } from './at/replies.ts';
import type { AtCommands } from './channel.ts';

export type RegistrationReading =
  /** Nothing answered: that says nothing about the network (the modem's hang count decides). */
  | { kind: 'unanswered' }
  | { kind: 'searching'; denied: boolean }
  | {
      kind: 'registered';
      roaming: boolean;
      /** Registered on LTE (EPS) with no CS registration: SMS over SGs/IMS may be refused. */
      lteOnly: boolean;
      smsOnly: boolean;
      signal: { dbm?: number; bars?: number };
      operator: string | undefined;
    };

/** @param unanswered true when the modem's last commands in a row got no answer at all */
export async function readRegistration(
  at: AtCommands,
  unanswered: () => boolean,
): Promise<RegistrationReading> {
  const regs: Partial<Record<'+CREG' | '+CGREG' | '+CEREG', Registration>> = {};
  for (const p of ['+CREG', '+CGREG', '+CEREG'] as const) {
    const r = await at.tryExec(`AT${p}?`);
    const reg = r ? parseReg(r.lines, p) : undefined;
    if (reg) regs[p] = reg;
  }
  if (unanswered()) return { kind: 'unanswered' };
  const cs = regs['+CREG']?.stat;
  const ps = regs['+CGREG']?.stat;
  const eps = regs['+CEREG']?.stat;
  const any = [cs, eps, ps].find(isRegistered);
  if (any === undefined) return { kind: 'searching', denied: [cs, ps, eps].includes('denied') };
  const sig = parseCsq((await at.tryExec('AT+CSQ'))?.lines ?? []);
  return {
    kind: 'registered',
    roaming: isRoaming(any),
    lteOnly: !isRegistered(cs) && isRegistered(eps),
    smsOnly:
      cs === 'sms-only-home' ||
      cs === 'sms-only-roaming' ||
      eps === 'sms-only-home' ||
      eps === 'sms-only-roaming',
    signal: sig ? { bars: sig.bars, ...(sig.dbm === undefined ? {} : { dbm: sig.dbm }) } : {},
    operator: parseCops((await at.tryExec('AT+COPS?'))?.lines ?? []),
  };
}
