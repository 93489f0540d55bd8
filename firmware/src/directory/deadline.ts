/** One login's time limit on the monotonic clock, and a wait bounded by it. */
import type { Clock } from '../clock.ts';
import { ErrorCode, MfaError } from '../errors.ts';

export class Deadline {
  private readonly end: number;
  constructor(
    private readonly clock: Clock,
    ms: number,
  ) {
    this.end = clock.monotonic() + ms;
  }
  remaining(): number {
    return Math.max(0, Math.floor(this.end - this.clock.monotonic()));
  }
}

/** `p`, or a retryable DirectoryTimeout after `ms`; `p` itself goes on (others may share it). */
export function raceDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new MfaError(`no domain controller answered within ${ms} ms`, ErrorCode.DirectoryTimeout, {
            flags: { retryable: true },
          }),
        ),
      Math.max(0, ms),
    );
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
