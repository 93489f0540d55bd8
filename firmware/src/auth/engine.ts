/**
 * The two-step login, behind the RadiusHandler seam. Each step is its own module:
 *
 *   step 1 (no State): password-step.ts → challenge-step.ts
 *   step 2 (State):    passcode-step.ts
 *
 * engine-context.ts holds what they share; decision.ts what they decide and say.
 */
import { MfaError, ErrorCode, describeError } from '../errors.ts';
import { MESSAGES, reply, type AuthDecision, type AuthStats } from './decision.ts';
import { createEngineContext, decide, log, passcodeKey, type AuthEngineDeps } from './engine-context.ts';
import { normaliseLogin } from './login.ts';
import { passcodeStep } from './passcode-step.ts';
import { passwordStep } from './password-step.ts';
import type { AuthGuard } from './guard.ts';
import type { RadiusHandler } from './types.ts';

export {
  MESSAGES,
  type AuthDecision,
  type AuthOutcome,
  type AuthReason,
  type AuthStats,
} from './decision.ts';
export type { AuthEngineConfig, AuthEngineDeps } from './engine-context.ts';

const DEFAULT_SWEEP_GRACE_MS = 10 * 60_000;

export interface AuthEngine {
  /** The RadiusHandler the server calls. Never throws: an internal failure is a Reject. */
  handle: RadiusHandler;
  /** Deletes challenges expired longer than the grace; returns how many. */
  sweep(graceMs?: number): Promise<number>;
  /** Sweeps every `intervalMs` (default 60 s) until stop(). */
  start(intervalMs?: number): void;
  /** Ends the sweeps; resolves once a sweep in progress is done, so the store can close after it. */
  stop(): Promise<void>;
  stats(): AuthStats;
  /** The policy state (lockout, tokens, override codes, limits), for the admin actions. */
  readonly guard: AuthGuard;
}

export function createAuthEngine(deps: AuthEngineDeps): AuthEngine {
  const shared = createEngineContext(deps);
  const { challenges, counters } = shared;
  let timer: NodeJS.Timeout | undefined;
  let sweeping: Promise<void> = Promise.resolve();
  // A device secret too short fails here, at start, not on the first login.
  passcodeKey(shared.config());

  const { onDecision } = deps;
  const handle: RadiusHandler = async (req, client) => {
    counters.requests++;
    // The audit hook hears which request each decision answers: the context passed down the
    // steps is this request's own (a shallow copy; every store, lock and counter is shared).
    const ctx = onDecision ? { ...shared, onDecision: (d: AuthDecision) => onDecision(d, req) } : shared;
    try {
      return req.state !== undefined && req.state.length > 0
        ? await passcodeStep(ctx, req, client, req.state)
        : await passwordStep(ctx, req, client);
    } catch (e) {
      counters.errors++;
      log.error({ err: describeError(e), client: client.name }, 'auth request failed');
      // Directory errors are the 600 block; a DC outage is worth saying, anything else is not.
      const thrown = e instanceof MfaError ? Number(e.code) : 0;
      const directoryDown = thrown >= 600 && thrown < 700;
      return decide(
        ctx,
        {
          step: req.state ? 'passcode' : 'password',
          user: normaliseLogin(req.userName)?.account ?? '',
          client: client.name,
          outcome: 'reject',
          reason: directoryDown ? 'unavailable' : 'internal-error',
          // A coded failure (StoreWriteFailed, a directory error) names its own troubleshooting row.
          code: thrown > 0 ? thrown : ErrorCode.AuthInternalError,
          detail: describeError(e),
        },
        reply('Access-Reject', directoryDown ? MESSAGES.directoryUnavailable : MESSAGES.internal),
      );
    }
  };

  return {
    handle,
    sweep: (graceMs = DEFAULT_SWEEP_GRACE_MS) => challenges.sweep(graceMs),
    start(intervalMs = 60_000) {
      if (timer) return;
      // Logins in flight across a restart then cost no disk read each.
      challenges.warm().catch((e: unknown) => {
        log.warn({ err: describeError(e) }, 'loading live challenges failed');
      });
      // Which users have a lockout row: a passcode check for anyone else then reads nothing.
      shared.guard.lockout.load().catch((e: unknown) => {
        log.warn({ err: describeError(e) }, 'loading the lockout table failed');
      });
      let ticks = 0;
      timer = setInterval(() => {
        const swept = challenges.sweep(DEFAULT_SWEEP_GRACE_MS).catch((e: unknown) => {
          log.warn({ err: describeError(e) }, 'challenge sweep failed');
        });
        // Idle SMS and bad-password counters, expired override codes, old IP history: hourly.
        const policySwept =
          ++ticks % 60 === 0
            ? shared.guard.sweep(shared.config().policy.ipHistoryDays).catch((e: unknown) => {
                log.warn({ err: describeError(e) }, 'auth policy sweep failed');
              })
            : undefined;
        // Settled to undefined: Promise.all's array would hold the previous one, a chain that
        // grows by one array a minute for as long as the box runs.
        sweeping = Promise.all([sweeping, swept, policySwept]).then(() => undefined);
      }, intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      // A sweep still iterating when the store closes fails with "Iterator is not open".
      await sweeping;
    },
    stats: () => ({ ...counters }),
    guard: shared.guard,
  };
}
