/** The parts of an `Outbox` double that tests of other layers do not care about. */
import type { OutboxStats } from '../../firmware/src/dispatch/types.ts';

export const quietOutboxParts = {
  stats: (): OutboxStats => ({
    queued: 0,
    inFlight: 0,
    sent: 0,
    failed: 0,
    expired: 0,
    oldestQueuedAgeMs: null,
  }),
  close: (): Promise<void> => Promise.resolve(),
};
