/**
 * One error class for the whole firmware. Callers branch on `code`, never on message text.
 * Codes are grouped by area in blocks of 100; the error code table in firmware/README.md lists every code
 * (test/unit/errors.test.ts keeps the two in sync).
 */
export enum ErrorCode {
  // 100–199: configuration
  ConfigInvalid = 100,
  ConfigFileUnreadable = 101,
  ConfigSecretMissing = 102,
  ConfigStale = 103,

  // 200–299: store
  StoreOpenFailed = 200,
  StoreWriteFailed = 201,
  StoreCorrupt = 202,

  // 300–399: modem and serial transport
  ModemPortUnavailable = 300,
  ModemTimeout = 301,
  ModemClosed = 302,
  ModemCommandFailed = 303,
  ModemNotReady = 304,
  ModemSimPinRejected = 305,
  ModemSimMissing = 306,
  ModemNoNetwork = 307,
  ModemBusy = 308,

  // 400–499: SMS sending and dispatch
  SmsRetryable = 400,
  SmsPermanent = 401,
  SmsSimFailure = 402,
  SmsUnknown = 403,
  SmsExpired = 404,
  SmsNoModem = 405,
  SmsEncodingFailed = 406,
  SmsInvalidNumber = 407,
  // 420–429: the outbox (dispatch)
  OutboxKeyInvalid = 420,
  OutboxDecryptFailed = 421,
  OutboxDuplicateChallenge = 422,
  OutboxClosed = 423,

  // 500–599: RADIUS
  RadiusMalformed = 500,
  RadiusBadAuthenticator = 501,
  RadiusUnknownClient = 502,
  RadiusBindFailed = 503,
  RadiusMessageAuthenticatorMissing = 504,
  RadiusProxyStateWithoutAuthenticator = 505,
  RadiusPasswordUndecodable = 506,
  RadiusHandlerFailed = 507,
  RadiusOverloaded = 508,
  RadiusClientInvalid = 509,
  RadiusUnsupportedCode = 510,

  // 600–699: directory
  DirectoryUnavailable = 600,
  DirectoryTimeout = 601,
  DirectoryTlsFailed = 602,
  DirectoryBindFailed = 603,
  DirectorySearchFailed = 604,
  DirectoryInsecureRefused = 605,
  DirectorySyncAborted = 606,
  DirectoryDnsFailed = 607,
  DirectoryGroupNotFound = 608,
  DirectoryUserAmbiguous = 609,

  // 700–799: authentication engine
  AuthChallengeUnknown = 700,
  AuthChallengeExpired = 701,
  AuthDeviceSecretWeak = 702,
  AuthSmsUnavailable = 703,
  AuthNoMobileNumber = 704,
  AuthNotInMfaGroup = 705,
  AuthPasscodeExhausted = 706,
  AuthUserMismatch = 707,
  AuthChallengeUsed = 708,
  AuthInternalError = 709,
  AuthSmsRateLimited = 710,
  // 750–769: auth policy (lockout, limits, tokens, override codes, rules)
  AuthAccountLocked = 750,
  AuthPasswordThrottled = 751,
  AuthPolicyReject = 752,
  AuthNoSecondFactor = 753,
  AuthSecretUnreadable = 754,
  AuthTokenInvalid = 755,

  // 800–899: web and command line
  CliUsage = 800,
  WebBindFailed = 801,
  ServiceUnreachable = 802,
  WebTlsInvalid = 803,
  WebAdminInvalid = 804,
  BackupInvalid = 805,
  BackupWrongPassphrase = 806,

  // 900–999: the appliance (release, upgrade)
  ReleaseInvalid = 900,
  ReleaseChecksumMismatch = 901,
  UpgradeRolledBack = 902,
}

/**
 * A failed SMS send, classified once where it happened (modem/send-failure.ts builds these) and
 * carried as it is on the MfaError to the pool (which retries) and the outbox (which waits,
 * resends an unknown outcome once, or gives up): nobody downstream maps a code back to a class.
 */
export type SendFailure =
  /** Definitely not sent; another try may work (congestion, SMS collision, a hang before the prompt). */
  | { class: 'retryable'; reason: string }
  /** Definitely not sent, and the modem would not say why (CMS 500 before Ctrl-Z): one more try. */
  | { class: 'unknown'; reason: string }
  /** This message will never go (bad number, bad PDU, barred). */
  | { class: 'permanent'; reason: string }
  /** The SIM is missing, locked or broken: another modem may send it. */
  | { class: 'sim'; reason: string }
  /** After Ctrl-Z without a clear refusal: the network may have it. Never retried by the pool. */
  | { class: 'outcome-unknown'; reason: string }
  /** The passcode's life ran out before Ctrl-Z: nothing went out. */
  | { class: 'expired'; reason: string }
  /** No modem can send now; nothing went out. */
  | { class: 'no-modem'; reason: string };

export interface MfaErrorOptions {
  cause?: unknown;
  /** Facts a caller may classify on without parsing the message (as node-serialport does). */
  flags?: {
    disconnected?: boolean;
    canceled?: boolean;
    retryable?: boolean;
    /** An SMS failure after Ctrl-Z: the network may or may not have taken the message. */
    outcomeUnknown?: boolean;
  };
  /** The config field or input that is wrong, for errors that name one. */
  field?: string;
  /** For an SMS send that failed: what it means (see modem/send-failure.ts). */
  sendFailure?: SendFailure;
}

export class MfaError extends Error {
  readonly code: ErrorCode;
  readonly flags: NonNullable<MfaErrorOptions['flags']>;
  readonly field: string | undefined;
  readonly sendFailure: SendFailure | undefined;

  constructor(message: string, code: ErrorCode, options: MfaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MfaError';
    this.code = code;
    this.flags = options.flags ?? {};
    this.field = options.field;
    this.sendFailure = options.sendFailure;
  }

  /** The stable name of the code, e.g. `ModemTimeout`, for logs and the API. */
  get codeName(): string {
    return ErrorCode[this.code] ?? String(this.code);
  }
}

export function isMfaError(e: unknown, code?: ErrorCode): e is MfaError {
  return e instanceof MfaError && (code === undefined || e.code === code);
}

/** A short, secret-free description of anything thrown, for log fields. */
export function describeError(e: unknown): string {
  if (e instanceof MfaError) return `${e.codeName}: ${e.message}`;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
