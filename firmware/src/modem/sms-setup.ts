/**
 * The SMS side of init: PDU mode, or text mode where PDU is refused; the SMS centre; whether
 * routed status reports need +CNMA; where new-message and report URCs go (+CNMI).
 */
import type { Clock } from '../clock.ts';
import { ErrorCode, MfaError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { classifyFinal, type ClassifiedError } from './at/errors.ts';
import { parseCsca } from './at/replies.ts';
import type { AtCommands } from './channel.ts';
import type { ModemProfile } from './profiles.ts';
import type { ModemState } from './types.ts';

export interface SmsSetup {
  textMode: boolean;
  /** The modem has no SMS mode at all: it cannot send. */
  impossible: boolean;
  smsc: string | undefined;
  /** +CSCA answered empty: the PDUs carry no SMSC (the "00" octet), so every send fails with CMS 330. */
  smscMissing: boolean;
  /** Routed reports must be acknowledged (+CSMS=1, or a modem that insists). */
  cnmaRequired: boolean;
}

export interface SmsSetupHost extends AtCommands {
  readonly name: string;
  readonly clock: Clock;
  readonly log: Logger;
  setState(state: ModemState, detail?: string): void;
  /** Throws when the modem has stopped answering (see ModemTimings.hangTimeouts). */
  throwIfHung(): void;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** @param simBusyMax ModemTimings.simBusyMax: how long AT+CMGF may take to settle, ms. */
export async function configureSms(
  host: SmsSetupHost,
  p: ModemProfile | undefined,
  simBusyMax: number,
): Promise<SmsSetup> {
  let textMode = p?.quirks.textModeOnly ?? false;
  let impossible = false;
  if (!textMode && !(await smsMode(host, 0, simBusyMax))) {
    host.log.warn('PDU mode refused: falling back to text mode');
    textMode = true;
  }
  if (textMode && !(await smsMode(host, 1, simBusyMax))) {
    host.setState('failed', 'the modem refuses both PDU and text mode (AT+CMGF): it cannot send SMS');
    impossible = true;
  }
  const csca = await host.tryExec('AT+CSCA?');
  const smsc = parseCsca(csca?.lines ?? []);
  const csms = /^\+CSMS:\s*(\d)/.exec((await host.tryExec('AT+CSMS?'))?.lines[0] ?? '')?.[1];
  for (const cnmi of p?.quirks.cnmiFallbacks ?? ['2,1,0,1,0', '2,1,0,2,0', '2,1,0,0,0']) {
    if (await host.tryExec(`AT+CNMI=${cnmi}`)) break;
  }
  return {
    textMode,
    impossible,
    smsc,
    smscMissing: csca !== undefined && smsc === undefined,
    cnmaRequired: (p?.quirks.needsCnma ?? false) || csms === '1',
  };
}

/**
 * AT+CMGF=<mode> (0 PDU, 1 text). True when the modem took it, false when it definitely lacks
 * that mode (PDU → text mode is used; text → the modem cannot send). Anything in between (SIM
 * busy, CMS 314 while the SIM's SMS side loads after boot, CME 14/515, a timeout, an unknown
 * error) is waited out with a short backoff: falling back on a transient error left a PDU modem
 * in text mode until the next restart. When it never settles, init fails and the supervisor
 * runs it again.
 */
async function smsMode(host: SmsSetupHost, mode: 0 | 1, simBusyMax: number): Promise<boolean> {
  const until = host.clock.monotonic() + simBusyMax;
  let backoff = 100;
  for (;;) {
    let reason: string;
    try {
      const r = await host.exec(`AT+CMGF=${mode}`);
      if (r.final.ok) return true;
      const c = classifyFinal(r.final);
      if (definitelyUnsupported(c)) return false;
      reason = c.reason;
    } catch (e) {
      if (!(e instanceof MfaError) || e.code !== ErrorCode.ModemTimeout) throw e;
      host.throwIfHung();
      reason = 'no answer';
    }
    if (host.clock.monotonic() > until)
      throw new MfaError(
        `${host.name}: AT+CMGF=${mode} did not settle (${reason}); SMS mode not set`,
        ErrorCode.ModemBusy,
        { flags: { retryable: true } },
      );
    host.setState('initialising', `SMS mode: waiting (${reason})`);
    await sleep(backoff);
    backoff = Math.min(500, backoff * 2);
  }
}

/**
 * A refusal of AT+CMGF that means "not this mode here", not "not now": plain ERROR (what most
 * firmware answers for an unsupported value), "operation not allowed / not supported" (CMS 302,
 * 303, CME 3, 4), an invalid parameter (CMS 304, CME 50) and vendor words for unsupported commands.
 */
function definitelyUnsupported(c: ClassifiedError): boolean {
  if (c.family === 'error') return true;
  if (c.family === 'vendor') return c.reason === 'COMMAND NOT SUPPORT' || c.reason === 'TOO MANY PARAMETERS';
  if (c.family === 'cms') return c.code === 302 || c.code === 303 || c.code === 304;
  return c.code === 3 || c.code === 4 || c.code === 50;
}
