/** A throw-away store per test file, reopened to prove that state survives a restart. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';

export class TempStore {
  dir = '';
  store!: Store;

  async open(): Promise<Store> {
    if (this.dir === '') this.dir = await mkdtemp(join(tmpdir(), 'mfabox-policy-'));
    this.store = await openStore(this.dir);
    return this.store;
  }

  /** Close and open again: what a service restart does to the store. */
  async reopen(): Promise<Store> {
    await this.store.close();
    return this.open();
  }

  async dispose(): Promise<void> {
    await this.store.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
