/** The outbox's tunables (with their ranges and defaults) and what it is built from. */
import type { Clock, Random, Timers } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { SmsSender } from '../modem/types.ts';
import type { Store } from '../store/store.ts';
import type { OutboxEvent } from './types.ts';

export interface OutboxOptions {
  /** [0...60000] ms, default 5000: an entry with less life left than this is expired, not sent. */
  expiryMarginMs: number;
  /**
   * [1...20], default 6: sends per entry whose own `submitting` write failed at the prompt (the
   * modem sent ESC, nothing went out). Network errors are retried by the modem pool, not here;
   * waiting for a modem when none can send is bounded by the passcode's life, not by this.
   */
  maxAttempts: number;
  /** [10...10000] ms, default 200: first backoff (own-write retry, no-modem recheck), doubling. */
  retryBaseMs: number;
  /** [100...60000] ms, default 5000: backoff cap (a no-modem wait is capped at idleRecheckMs). */
  retryMaxMs: number;
  /**
   * [0...4], default 1: sends handed to the pool per able modem beyond the one it is sending, so
   * a modem that finishes finds the next message already waiting. Safe: `submitting` is written
   * only when a modem reaches the `> ` prompt.
   */
  lookahead: number;
  /** [1 h...30 d] ms, default 3 days: how long a final entry (status, refs, no text) is kept. */
  retentionMs: number;
  /** [1 min...1 d] ms, default 1 h: how often final entries are compacted. */
  sweepIntervalMs: number;
  /** [100...60000] ms, default 1000: recheck for a ready modem when the sender emits no health events. */
  idleRecheckMs: number;
  /**
   * [0...600000] ms, default 95000: how long close() waits for sends already past the modem's
   * `> ` prompt to get their final answer. Longer than the modem's 90 s send-final timeout, so a
   * restart never cuts a send the network may have taken (which would be resent at the next
   * start). The systemd unit's TimeoutStopSec must exceed it.
   */
  closeTimeoutMs: number;
  /** Default false: ask the network for a status report on each message (passcode.statusReport). */
  statusReport: boolean;
}

export const DEFAULT_OUTBOX_OPTIONS: OutboxOptions = {
  expiryMarginMs: 5000,
  maxAttempts: 6,
  retryBaseMs: 200,
  retryMaxMs: 5000,
  lookahead: 1,
  retentionMs: 3 * 24 * 3600_000,
  sweepIntervalMs: 3600_000,
  idleRecheckMs: 1000,
  closeTimeoutMs: 95_000,
  statusReport: false,
};

export interface OutboxDeps {
  store: Store;
  sender: SmsSender;
  /** The device key's 32 bytes (store/device-key.ts); texts are sealed with its outbox-text subkey. */
  deviceKey: Buffer;
  /**
   * The data directory: holds the submit journal (see submit-journal.ts), the fast durable
   * `submitting` mark. Without it, `submitting` is a LevelDB durable write at the prompt.
   */
  dataDir?: string;
  clock?: Clock;
  random?: Random;
  timers?: Timers;
  options?: Partial<OutboxOptions>;
  log?: Logger;
  /** Told of each entry queued and each final outcome (the audit); must not throw. */
  onEvent?: (e: OutboxEvent) => void;
}
