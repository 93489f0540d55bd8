/**
 * A Directory whose backend can be replaced while logins run (a directory config change from
 * the web page). Calls already in the old backend finish there; it is closed once they had time
 * to (its own deadline is at most 10 s).
 */
import type { Directory, DirectoryHealth, DirectoryUser, VerifyResult } from './directory.ts';

const CLOSE_AFTER_MS = 15_000;

export class SwappableDirectory implements Directory {
  private pendingClose: { timer: NodeJS.Timeout; dir: Directory }[] = [];

  constructor(private current: Directory) {}

  swap(next: Directory): void {
    const old = this.current;
    this.current = next;
    const timer = setTimeout(() => {
      this.pendingClose = this.pendingClose.filter((x) => x.timer !== timer);
      void old.close().catch(() => undefined);
    }, CLOSE_AFTER_MS);
    timer.unref();
    this.pendingClose.push({ timer, dir: old });
  }

  verifyPassword(username: string, password: string): Promise<VerifyResult> {
    return this.current.verifyPassword(username, password);
  }

  findUser(username: string): Promise<DirectoryUser | undefined> {
    return this.current.findUser(username);
  }

  listGroupMembers(group: string): AsyncIterable<DirectoryUser> {
    return this.current.listGroupMembers(group);
  }

  listGroupMemberPages(group: string): AsyncIterable<readonly DirectoryUser[]> {
    const c = this.current;
    if (c.listGroupMemberPages) return c.listGroupMemberPages(group);
    return (async function* () {
      const page: DirectoryUser[] = [];
      for await (const u of c.listGroupMembers(group)) page.push(u);
      yield page;
    })();
  }

  health(): DirectoryHealth {
    return this.current.health();
  }

  async close(): Promise<void> {
    for (const p of this.pendingClose.splice(0)) {
      clearTimeout(p.timer);
      await p.dir.close().catch(() => undefined);
    }
    await this.current.close();
  }
}
