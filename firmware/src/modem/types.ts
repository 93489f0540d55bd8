/**
 * The seams between the SMS path's layers. The auth engine and dispatch see only `SmsSender`;
 * the pool and modems sit behind it.
 */
export interface SmsSendOptions {
  /**
   * ms the message has left to live (the passcode's remaining life), counted from the call.
   * Fixed on the monotonic clock once when send() is called; every later check (retries, the
   * last look before each Ctrl-Z, TP-VP) uses that, so an NTP step mid-send changes nothing.
   */
  remainingMs: number;
  /** Class 0 "flash" SMS, shown at once and not stored. */
  flash?: boolean;
  /** Ask the network for a status report. */
  statusReport?: boolean;
  /**
   * Awaited after the modem's `> ` prompt and before the first Ctrl-Z: the outbox persists
   * `submitting` here, so a power cut after this point is known to have an unknown outcome.
   * If it rejects, the send is abandoned with ESC and nothing goes out.
   */
  beforeSubmit?: () => Promise<void>;
  /**
   * Called synchronously right before `AT+CMGS` of the first part is written (on each attempt
   * until beforeSubmit has run), so the outbox can start its durable `submitting` mark while the
   * modem answers with its prompt. Only an early start: beforeSubmit still decides, and a throw
   * here is ignored.
   */
  onCommand?: () => void;
}

export interface SmsSendResult {
  /** One TP-MR per part of a concatenated message. */
  messageRefs: number[];
  /** Name of the modem that sent it. */
  modem: string;
}

export type ModemState =
  | 'absent'
  | 'initialising'
  | 'no-sim'
  | 'pin-needed'
  | 'pin-rejected'
  | 'searching'
  | 'sms-refused'
  | 'registered'
  | 'sending'
  | 'failed';

export interface ModemHealth {
  name: string;
  state: ModemState;
  /** Plain-words detail for the UI, e.g. "PIN rejected: 1 try left, not retried". Never a secret. */
  detail?: string;
  /** 0–5, when registered. */
  bars?: number;
  dbm?: number;
  operator?: string;
  roaming?: boolean;
  identity?: { manufacturer?: string; model?: string; revision?: string; imei?: string; iccid?: string };
  sentCount: number;
  failedCount: number;
  /** Wall ms of this modem's last successful send since start, if any. */
  lastSentAt?: number;
}

export interface SmsSender {
  /**
   * Sends one SMS (possibly several parts). Rejects with an MfaError whose `sendFailure` says
   * what happened (modem/send-failure.ts), or with the error a `beforeSubmit` threw.
   */
  send(to: string, text: string, opts: SmsSendOptions): Promise<SmsSendResult>;
  /** True when at least one modem is registered and able to send. */
  ready(): boolean;
  /** Expected ms until a message queued now would start going out; Infinity when nothing can send. */
  expectedWaitMs(queued: number): number;
  health(): ModemHealth[];
  /** Calls `listener` whenever any modem changes state; returns the unsubscribe. */
  onHealth(listener: (h: ModemHealth[]) => void): () => void;
}

/** What init found about a modem (see Modem.facts). */
export interface ModemFacts {
  state: ModemState;
  detail?: string;
  identity: NonNullable<ModemHealth['identity']>;
  profile: string;
  roaming: boolean;
  lteOnly: boolean;
  operator?: string;
  dbm?: number;
  bars?: number;
  smsc?: string;
  textMode: boolean;
}
