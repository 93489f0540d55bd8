/**
 * What a modem tells the outside, computed from one snapshot of its state: health (read by the
 * LEDs, the dashboard and /metrics), facts (for `mfabox modem probe` and the web Probe) and why it
 * cannot send (the CLI exits with that code). Pure, so the lifecycle in modem.ts keeps only the
 * job of getting and keeping the modem ready.
 */
import { ErrorCode, MfaError } from '../errors.ts';
import type { ModemFacts, ModemHealth, ModemState } from './types.ts';

export interface ModemView {
  name: string;
  state: ModemState;
  detail: string | undefined;
  identity: NonNullable<ModemHealth['identity']>;
  signal: { dbm?: number; bars?: number };
  operator: string | undefined;
  roaming: boolean | undefined;
  lteOnly: boolean;
  smsc: string | undefined;
  textMode: boolean;
  /** The vendor profile's name, once identified. */
  profile: string | undefined;
  sentCount: number;
  failedCount: number;
  /** Wall ms. */
  lastSentAt: number | undefined;
  /** Init found that this modem can never send SMS (no PDU nor text mode). */
  smsImpossible: boolean;
}

/** Network readings (signal, operator, roaming) only while registered: stale ones would mislead. */
export function healthOf(v: ModemView): ModemHealth {
  const h: ModemHealth = {
    name: v.name,
    state: v.state,
    sentCount: v.sentCount,
    failedCount: v.failedCount,
    identity: { ...v.identity },
  };
  if (v.detail !== undefined) h.detail = v.detail;
  if (v.lastSentAt !== undefined) h.lastSentAt = v.lastSentAt;
  if (v.state === 'registered' || v.state === 'sending' || v.state === 'sms-refused') {
    if (v.signal.bars !== undefined) h.bars = v.signal.bars;
    if (v.signal.dbm !== undefined) h.dbm = v.signal.dbm;
    if (v.operator !== undefined) h.operator = v.operator;
    if (v.roaming !== undefined) h.roaming = v.roaming;
  }
  return h;
}

/** What init found, for `mfabox modem probe`. */
export function factsOf(v: ModemView): ModemFacts {
  return {
    state: v.state,
    ...(v.detail === undefined ? {} : { detail: v.detail }),
    identity: { ...v.identity },
    profile: v.profile ?? 'unknown',
    roaming: v.roaming === true,
    lteOnly: v.lteOnly,
    ...(v.operator ? { operator: v.operator } : {}),
    ...v.signal,
    ...(v.smsc ? { smsc: v.smsc } : {}),
    textMode: v.textMode,
  };
}

/** Why the modem cannot send, as the most specific code (the CLI exits with its message). */
export function notReadyError(v: ModemView): MfaError {
  const code =
    v.state === 'no-sim'
      ? ErrorCode.ModemSimMissing
      : v.state === 'pin-needed' || v.state === 'pin-rejected'
        ? ErrorCode.ModemSimPinRejected
        : v.state === 'searching' || v.state === 'sms-refused'
          ? ErrorCode.ModemNoNetwork
          : v.state === 'absent'
            ? ErrorCode.ModemPortUnavailable
            : v.smsImpossible
              ? ErrorCode.ModemCommandFailed
              : v.detail?.includes('SIM busy')
                ? ErrorCode.ModemBusy
                : ErrorCode.ModemNotReady;
  return new MfaError(`${v.name} not ready: ${v.state}${v.detail ? ` (${v.detail})` : ''}`, code);
}
