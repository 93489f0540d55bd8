/**
 * The CLI's one-shot use of a modem (`mfabox modem probe|send`): open the port at once, init
 * once, do the one thing, close. No supervisor, no PIN entry beyond what init does.
 */
import { describeError } from '../errors.ts';
import type { Modem } from './modem.ts';
import { nextStep, retryDelayMs, sendFailureOf } from './send-failure.ts';
import type { SendProgress } from './sms-submit.ts';
import type { ModemFacts, ModemHealth, SmsSendOptions } from './types.ts';

export interface ProbeReport {
  identity: NonNullable<ModemHealth['identity']>;
  profile: string;
  sim: string;
  registration: string;
  operator?: string;
  dbm?: number;
  bars?: number;
  smsc?: string;
  textMode: boolean;
}

/** For `mfabox modem probe`: identity, SIM, registration, signal. */
export function probeOnce(modem: Modem): Promise<ProbeReport> {
  return modem.runOnce(() => Promise.resolve(probeReport(modem.facts())));
}

/** What a probe shows, from the modem's facts: the CLI's probe and the web page's Probe button. */
export function probeReport(f: ModemFacts): ProbeReport {
  const simLocked = f.state === 'no-sim' || f.state.startsWith('pin');
  const registration = simLocked
    ? 'not checked (SIM not ready)'
    : f.state === 'registered'
      ? `registered${f.roaming ? ' (roaming)' : ''}${f.lteOnly ? ', LTE only' : ''}`
      : `${f.state}${f.detail ? `: ${f.detail}` : ''}`;
  return {
    identity: f.identity,
    profile: f.profile,
    sim: simLocked ? `${f.state}: ${f.detail ?? ''}` : 'ready',
    registration,
    ...(f.operator ? { operator: f.operator } : {}),
    ...(f.dbm === undefined ? {} : { dbm: f.dbm }),
    ...(f.bars === undefined ? {} : { bars: f.bars }),
    ...(f.smsc ? { smsc: f.smsc } : {}),
    textMode: f.textMode,
  };
}

export interface SendOnceOptions {
  /** [10...5000] ms, default 250: first retry backoff, doubled per attempt (as in the pool). */
  retryBackoffMs?: number;
  /** Told about each retry before its backoff, e.g. to print it. */
  onRetry?: (r: { attempt: number; reason: string; delayMs: number }) => void;
}

/**
 * For `mfabox modem send`: init once, then send with the pool's retry rules (send-failure.ts
 * nextStep): a one-off CMS 512 is tried again, a part that went out is never sent twice, an
 * unknown outcome after Ctrl-Z is not retried. With one modem there is no other to move to.
 */
export function sendOnce(
  modem: Modem,
  to: string,
  text: string,
  opts: SmsSendOptions,
  retry: SendOnceOptions = {},
): Promise<number[]> {
  return modem.runOnce(async () => {
    if (!modem.canSend()) throw modem.notReady();
    const progress: SendProgress = { refs: [], beforeSubmitDone: false };
    for (let attempt = 1; ; attempt++) {
      try {
        return await modem.send(to, text, opts, progress);
      } catch (e) {
        // Without the supervisor a hung modem stays hung: only a clean refusal is retried.
        if (nextStep(sendFailureOf(e), attempt) !== 'again' || !modem.canSend()) throw e;
        const delayMs = retryDelayMs(attempt, retry.retryBackoffMs ?? 250);
        retry.onRetry?.({ attempt, reason: describeError(e), delayMs });
        await new Promise((r) => setTimeout(r, delayMs));
      }
    }
  });
}
