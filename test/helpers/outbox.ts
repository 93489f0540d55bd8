/** The parts of an `Outbox` double that tests of other layers do not care about. */
import type { OutboxStats, OutboxStatus } from '../../firmware/src/dispatch/types.ts';

export const quietOutboxParts = {
  wake: (): void => undefined,
  enqueue: (): Promise<void> => Promise.resolve(),
  ready: (): boolean => true,
  expectedWaitMs: (): number => 0,
  status: (): Promise<OutboxStatus | undefined> => Promise.resolve('queued'),
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
