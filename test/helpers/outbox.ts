/** The parts of an `Outbox` double that tests of other layers do not care about. */
import type { OutboxStats, OutboxStatus, PreparedEntry } from '../../firmware/src/dispatch/types.ts';
import type { StoreOp } from '../../firmware/src/store/store.ts';

/** A prepared-entry handle over `ops` whose settling a test may count, or ignore. */
export function preparedWith(
  ops: StoreOp[],
  on: { committed?: () => void; abandoned?: () => void } = {},
): PreparedEntry {
  return {
    ops,
    committed: () => on.committed?.(),
    abandoned: () => on.abandoned?.(),
  };
}

export const quietOutboxParts = {
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
