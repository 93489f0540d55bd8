/**
 * A directory whose config can be replaced while the box runs (the web page's live apply): the new
 * directory is built and started first (a bad config throws and the old one stays), then swapped
 * in; logins already running finish on the directory they started on, which is closed only once
 * the last of them has answered. No login in flight is dropped, and none sees half a config.
 */
import type { DirectoryConfig } from '../config/schema.ts';
import type { Directory, DirectoryHealth, DirectoryUser, VerifyResult } from './directory.ts';

export type DirectoryBuilder = (cfg: DirectoryConfig) => Promise<Directory>;

export class SwappableDirectory implements Directory {
  private current: Directory;
  private readonly uses = new Map<Directory, number>();
  private readonly drained = new Map<Directory, () => void>();
  private swapping: Promise<void> = Promise.resolve();

  constructor(
    initial: Directory,
    private readonly build: DirectoryBuilder,
  ) {
    this.current = initial;
  }

  /** The directory new calls go to now. */
  get active(): Directory {
    return this.current;
  }

  /**
   * Builds a directory for `cfg` and makes it the one new calls use; resolves once the old one has
   * drained and closed. Throws (and changes nothing) when the new one cannot be built. Two calls
   * run one after the other, in order.
   */
  reconfigure(cfg: DirectoryConfig): Promise<void> {
    const run = this.swapping.then(async () => {
      const next = await this.build(cfg);
      const old = this.current;
      this.current = next;
      await this.retire(old);
    });
    this.swapping = run.catch(() => undefined);
    return run;
  }

  verifyPassword(username: string, password: string): Promise<VerifyResult> {
    return this.use((d) => d.verifyPassword(username, password));
  }

  findUser(username: string): Promise<DirectoryUser | undefined> {
    return this.use((d) => d.findUser(username));
  }

  async *listGroupMembers(group: string): AsyncIterable<DirectoryUser> {
    for await (const page of this.listGroupMemberPages(group)) yield* page;
  }

  /** A sync runs to its end on the directory it started on. */
  async *listGroupMemberPages(group: string): AsyncIterable<readonly DirectoryUser[]> {
    const d = this.enter();
    try {
      if (d.listGroupMemberPages) yield* d.listGroupMemberPages(group);
      else for await (const u of d.listGroupMembers(group)) yield [u];
    } finally {
      this.leave(d);
    }
  }

  health(): DirectoryHealth {
    return this.current.health();
  }

  async close(): Promise<void> {
    await this.swapping;
    await this.retire(this.current);
  }

  private async use<T>(fn: (d: Directory) => Promise<T>): Promise<T> {
    const d = this.enter();
    try {
      return await fn(d);
    } finally {
      this.leave(d);
    }
  }

  private enter(): Directory {
    const d = this.current;
    this.uses.set(d, (this.uses.get(d) ?? 0) + 1);
    return d;
  }

  private leave(d: Directory): void {
    const n = (this.uses.get(d) ?? 1) - 1;
    if (n > 0) {
      this.uses.set(d, n);
      return;
    }
    this.uses.delete(d);
    this.drained.get(d)?.();
  }

  /** Waits for the calls still running on `d`, then closes it. */
  private async retire(d: Directory): Promise<void> {
    if ((this.uses.get(d) ?? 0) > 0) await new Promise<void>((resolve) => this.drained.set(d, resolve));
    this.drained.delete(d);
    await d.close();
  }
}
