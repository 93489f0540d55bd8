/**
 * CME/CMS error classification, pure. The question a sender asks is only "should I try again?":
 * - retryable: the network or SIM is briefly unable (congestion, no service, SIM busy, an incoming
 *   SMS colliding with ours); retried with backoff.
 * - permanent: this message will never go (bad number, bad PDU, barred); retrying wastes the SIM's
 *   rate budget and can get it blocked.
 * - sim: the SIM itself is missing, locked or broken; needs a person.
 * - unknown: the modem would not say (CMS 500, plain ERROR); retried once, but only before Ctrl-Z.
 *
 * After Ctrl-Z the question changes to "did the SMSC possibly take it?". Only a refusal that
 * guarantees it did not may be retried (`refusedBeforeAcceptance`); anything else is ambiguous and
 * surfaces as SmsUnknown + outcomeUnknown, never retried by the pool (a retry is a duplicate SMS):
 *
 * | failure                                      | before Ctrl-Z        | after Ctrl-Z                  |
 * |----------------------------------------------|----------------------|-------------------------------|
 * | CMS 38/41/42/47 (RP-ERROR: out of order, temporary failure, congestion, resources) | retry ×3 | retry ×3 (network refused) |
 * | CMS 331 no network service, 512 MM establishment failure / SMS collision, 314 SIM busy, CME 14/30/32/515 | retry ×3 | retry ×3 (never left the ME) |
 * | CMS 332 / CME 31 network timeout, CMS 111 protocol error, 615/616 vendor network errors | retry ×3 | unknown, not retried |
 * | CMS 500, plain ERROR, unrecognised codes     | retry once           | unknown, not retried          |
 * | permanent (bad number/PDU, TP-FCS 128–255, RP 1/8/10/21…) | not retried | not retried (refused) |
 * | SIM 310–318                                   | next modem           | unknown, not retried          |
 * | timeout, port lost, modem reboot             | retry ×3             | unknown, not retried          |
 *
 * Numbers from 3GPP TS 27.005 §3.2.5 (CMS) and TS 27.007 §9.2 (CME); the network causes below 128
 * are TS 24.011 RP causes. Word forms are what modems print with AT+CMEE=2 or when they ignore =1.
 */
import { ErrorCode } from '../../errors.ts';
import type { FinalResult } from './framer.ts';

export type AtErrorClass = 'retryable' | 'permanent' | 'sim' | 'unknown';

export interface ClassifiedError {
  class: AtErrorClass;
  family: 'error' | 'cme' | 'cms' | 'vendor';
  /** The numeric code, also when the modem gave it in words we recognise. */
  code?: number;
  /** Plain words for logs and health. */
  reason: string;
}

const CMS_RETRYABLE = new Set([38, 41, 42, 47, 111, 314, 331, 332, 512, 615, 616]);
const CMS_SIM = new Set([310, 311, 312, 313, 315, 316, 317, 318]);
const CMS_PERMANENT = new Set([
  1, 8, 10, 21, 27, 28, 29, 30, 50, 69, 81, 95, 96, 97, 98, 99, 127, 301, 302, 303, 304, 305, 320, 321, 322,
  330, 340,
]);
const CME_RETRYABLE = new Set([14, 30, 31, 32, 515]);
const CME_SIM = new Set([5, 6, 7, 10, 11, 12, 13, 15, 16, 17, 18, 40, 41, 42, 43, 44, 45, 46, 47, 48]);
const CME_PERMANENT = new Set([3, 4, 20, 21, 22, 23, 24, 25, 26, 27, 50]);

/**
 * After Ctrl-Z: causes that mean the message was refused before the SMSC accepted it. RP causes
 * 38/41/42/47 arrive in an RP-ERROR (TS 24.011 §8.2.5.4): the network answered "no" to the
 * RP-DATA. 331, 512 (Qualcomm/Huawei "MM establishment failure", smstools' "SMS collision"), 314
 * and the CME ones are the ME refusing to start the transfer. 332 (timeout) and 111 (protocol
 * error) can follow a transfer that reached the SMSC, so they are not here.
 */
const CMS_REFUSED_AFTER_SUBMIT = new Set([38, 41, 42, 47, 314, 331, 512]);
const CME_REFUSED_AFTER_SUBMIT = new Set([14, 30, 32, 515]);

/** Word forms → numeric code (lower-case keys; CMS and CME share a space since words are unique). */
const CMS_WORDS: Record<string, number> = {
  'unassigned (unallocated) number': 1,
  'unassigned number': 1,
  'operator determined barring': 8,
  'call barred': 10,
  'short message transfer rejected': 21,
  'sm transfer rejected': 21,
  'destination out of service': 27,
  'unidentified subscriber': 28,
  'facility rejected': 29,
  'unknown subscriber': 30,
  'network out of order': 38,
  'temporary failure': 41,
  congestion: 42,
  'resources unavailable, unspecified': 47,
  'resources unavailable': 47,
  'requested facility not subscribed': 50,
  'invalid mandatory information': 96,
  'message type non-existent or not implemented': 97,
  'protocol error, unspecified': 111,
  'me failure': 300,
  'sms service of me reserved': 301,
  'operation not allowed': 302,
  'operation not supported': 303,
  'invalid pdu mode parameter': 304,
  'invalid text mode parameter': 305,
  'sim not inserted': 310,
  'sim pin required': 311,
  'ph-sim pin required': 312,
  'sim failure': 313,
  'sim busy': 314,
  'sim wrong': 315,
  'sim puk required': 316,
  'sim pin2 required': 317,
  'sim puk2 required': 318,
  'memory failure': 320,
  'invalid memory index': 321,
  'memory full': 322,
  'smsc address unknown': 330,
  'no network service': 331,
  'network timeout': 332,
  'no +cnma acknowledgement expected': 340,
  'unknown error': 500,
};

const CME_WORDS: Record<string, number> = {
  'phone failure': 0,
  'operation not allowed': 3,
  'operation not supported': 4,
  'ph-sim pin required': 5,
  'sim not inserted': 10,
  'sim pin required': 11,
  'sim puk required': 12,
  'sim failure': 13,
  'sim busy': 14,
  'sim wrong': 15,
  'incorrect password': 16,
  'sim pin2 required': 17,
  'sim puk2 required': 18,
  'memory full': 20,
  'invalid index': 21,
  'not found': 22,
  'memory failure': 23,
  'text string too long': 24,
  'invalid characters in text string': 25,
  'dial string too long': 26,
  'invalid characters in dial string': 27,
  'no network service': 30,
  'network timeout': 31,
  'network not allowed - emergency calls only': 32,
  'network not allowed, emergency calls only': 32,
  'incorrect parameters': 50,
  unknown: 100,
};

function byCode(family: 'cme' | 'cms', code: number): AtErrorClass {
  if (family === 'cms') {
    if (CMS_RETRYABLE.has(code)) return 'retryable';
    if (CMS_SIM.has(code)) return 'sim';
    if (CMS_PERMANENT.has(code)) return 'permanent';
    // TP-FCS values 128–255 (TS 23.040 §9.2.3.22) are the SMSC refusing this PDU.
    if (code >= 128 && code <= 255) return 'permanent';
    return 'unknown';
  }
  if (CME_RETRYABLE.has(code)) return 'retryable';
  if (CME_SIM.has(code)) return 'sim';
  if (CME_PERMANENT.has(code)) return 'permanent';
  return 'unknown';
}

/** Classifies a failed final result. An `ok` result has no class; callers check first. */
export function classifyFinal(r: Extract<FinalResult, { ok: false }>): ClassifiedError {
  if (r.family === 'cme' || r.family === 'cms') {
    const words = r.family === 'cms' ? CMS_WORDS : CME_WORDS;
    const code = r.code ?? words[r.text.toLowerCase().replace(/\s+/g, ' ').trim()];
    const reason = `${r.family.toUpperCase()} ERROR ${r.text}`;
    if (code === undefined) return { class: 'unknown', family: r.family, reason };
    return { class: byCode(r.family, code), family: r.family, code, reason };
  }
  if (r.family === 'vendor' && (r.text === 'COMMAND NOT SUPPORT' || r.text === 'TOO MANY PARAMETERS'))
    return { class: 'permanent', family: 'vendor', reason: r.text };
  return {
    class: 'unknown',
    family: r.family,
    ...(r.code === undefined ? {} : { code: r.code }),
    reason: r.text,
  };
}

/**
 * For a failure final that came after Ctrl-Z: true when it guarantees the message was not
 * accepted (so the failure keeps its class), false when the SMSC may have it (ambiguous).
 */
export function refusedBeforeAcceptance(c: ClassifiedError): boolean {
  // A SIM error after Ctrl-Z is not a network refusal: the SIM may have been pulled or failed
  // (e.g. writing the last TP-MR to EF-SMSS) after the message left.
  if (c.class === 'permanent') return true;
  if (c.class !== 'retryable' || c.code === undefined) return false;
  if (c.family === 'cms') return CMS_REFUSED_AFTER_SUBMIT.has(c.code);
  if (c.family === 'cme') return CME_REFUSED_AFTER_SUBMIT.has(c.code);
  return false;
}

/** True for CME/CMS 14/314 "SIM busy": wait it out with a short backoff. */
export function isSimBusy(e: ClassifiedError): boolean {
  return (e.family === 'cme' && e.code === 14) || (e.family === 'cms' && e.code === 314);
}

/** The SMS error code a classified failure maps to. */
export function smsErrorCode(c: AtErrorClass): ErrorCode {
  switch (c) {
    case 'retryable':
      return ErrorCode.SmsRetryable;
    case 'permanent':
      return ErrorCode.SmsPermanent;
    case 'sim':
      return ErrorCode.SmsSimFailure;
    case 'unknown':
      return ErrorCode.SmsUnknown;
  }
}

/**
 * How many times a send that failed with this class is attempted in total. Applies only to
 * failures the pool may retry at all: before Ctrl-Z, or refusals after it (see the table above).
 */
export function attemptsFor(c: AtErrorClass): number {
  return c === 'retryable' ? 3 : c === 'unknown' ? 2 : 1;
}
