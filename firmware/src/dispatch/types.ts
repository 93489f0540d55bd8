/** The outbox seam the auth engine uses. The SMS goes in the background; the engine never awaits a send. */
import type { StoreOp } from '../store/store.ts';

export interface OutboxEntryInput {
  /** One entry per challenge: the key that makes "one send per challenge" enforceable. */
  challengeId: string;
  /** E.164 number. */
  to: string;
  /** Holds a live passcode: encrypted at rest, deleted once the entry is final, never logged. */
  text: string;
  /** Wall-clock ms since the epoch; the message is never sent after this. */
  expiresAt: number;
  flash?: boolean;
  /** For the audit log only. */
  username?: string;
}

export type OutboxStatus = 'queued' | 'submitting' | 'sent' | 'failed' | 'expired';

/** Counters for health and the UI. Totals cover the entries still retained (a few days). */
export interface OutboxStats {
  /** Waiting for a modem, including entries waiting out a retry backoff. */
  queued: number;
  /** Handed to the modem pool and not yet settled. */
  inFlight: number;
  sent: number;
  failed: number;
  expired: number;
  /** Age in ms of the oldest entry not yet final (queued or in flight); null when there is none. */
  oldestQueuedAgeMs: number | null;
}

/**
 * An outbox entry prepared but not yet committed. The caller commits `ops` in the same durable
 * batch as its own records (the challenge) and then says how that went: the outbox takes the
 * caller's word for it and reads nothing back from the store.
 */
export interface PreparedEntry {
  /** The durable writes that create the entry (text already encrypted). */
  readonly ops: StoreOp[];
  /** The batch holding `ops` is durable: the entry joins the queue at once. */
  committed(): void;
  /** The batch failed: the entry is forgotten, so the challenge may be given another. */
  abandoned(): void;
}

export interface Outbox {
  /**
   * Prepares an entry for the caller's durable batch; call `committed()` or `abandoned()` on the
   * handle once the batch has settled. A handle left unsettled for a minute is forgotten (the
   * next start picks the entry up if its batch did land).
   * Throws MfaError OutboxDuplicateChallenge if the challenge already has an entry.
   */
  prepare(entry: OutboxEntryInput): PreparedEntry;
  /** prepare + durable commit + committed. */
  enqueue(entry: OutboxEntryInput): Promise<void>;
  /** True when a modem can send now. */
  ready(): boolean;
  /** Expected ms before a message queued now starts going out; Infinity when nothing can send. */
  expectedWaitMs(): number;
  /** Status of a challenge's message, for the audit and UI. */
  status(challengeId: string): Promise<OutboxStatus | undefined>;
  /** Counters for health and the UI; cheap, from memory. */
  stats(): OutboxStats;
  /**
   * Stops picking up work at once and waits (up to `timeoutMs`, default the outbox's
   * `closeTimeoutMs`, 95 s) for sends already past the modem's prompt to settle; sends not yet
   * submitted are abandoned and stay queued. Call before stopping the modem pool.
   */
  close(timeoutMs?: number): Promise<void>;
}

/** An SMS lifecycle step, for the audit and metrics (OutboxDeps.onEvent). Holds no text; `to` is masked. */
export type OutboxEvent =
  | { status: 'queued'; challengeId: string; username?: string; to: string }
  /** The one resend of an SMS whose first send has an unknown outcome, spent durably just now. */
  | { status: 'resend'; challengeId: string; username?: string; to: string }
  | {
      status: 'sent' | 'failed' | 'expired';
      challengeId: string;
      username?: string;
      to: string;
      modem?: string;
      messageRefs?: number[];
      /** Why it failed or expired: an ErrorCode name or a short phrase. */
      reason?: string;
    };
