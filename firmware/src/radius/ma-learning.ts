/**
 * Message-Authenticator per client: `yes` always requires it; `auto` (the default) requires it
 * once the client has sent one, and remembers that in the store ('radius-state') so a restart
 * does not reopen the BlastRADIUS door; `no` never requires it.
 */
import type { Clock } from '../clock.ts';
import { describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Store, Table } from '../store/store.ts';
import type { ClientEntry } from './clients.ts';

interface Learned {
  learnedAt: string;
  match: string;
}

const STATE_PREFIX = 'require-ma:';

export class MessageAuthenticatorLearning {
  private readonly learned = new Map<string, Learned>();
  private readonly table: Table<Learned> | undefined;

  constructor(
    store: Store | undefined,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.table = store?.table<Learned>('radius-state');
  }

  async load(): Promise<void> {
    if (!this.table) return;
    for await (const [k, v] of this.table.entries({ gte: STATE_PREFIX, lt: STATE_PREFIX + '\uffff' }))
      this.learned.set(k.slice(STATE_PREFIX.length), v);
  }

  /** What an `auto` client learned holds for that name at that address: a re-pointed entry learns anew. */
  hasLearned(e: ClientEntry): boolean {
    return this.learned.get(e.client.name)?.match === e.client.match;
  }

  required(e: ClientEntry): boolean {
    return (
      e.client.requireMessageAuthenticator === 'yes' ||
      (e.client.requireMessageAuthenticator === 'auto' && this.hasLearned(e))
    );
  }

  /** A valid Message-Authenticator arrived from `e`: an `auto` client now requires it. */
  saw(e: ClientEntry): void {
    if (e.client.requireMessageAuthenticator !== 'auto' || this.hasLearned(e)) return;
    const rec: Learned = { learnedAt: new Date(this.clock.now()).toISOString(), match: e.client.match };
    this.learned.set(e.client.name, rec);
    this.log.info(
      { client: e.client.name },
      'client sends Message-Authenticator: it is now required from this client (requireMessageAuthenticator auto)',
    );
    this.table?.put(STATE_PREFIX + e.client.name, rec).catch((err: unknown) => {
      this.log.error(
        { client: e.client.name, err: describeError(err) },
        'could not persist the learned Message-Authenticator requirement',
      );
    });
  }

  async forget(name: string): Promise<void> {
    this.learned.delete(name);
    await this.table?.del(STATE_PREFIX + name);
  }
}
