/**
 * The live-apply wrapper (directory/swappable.ts): a new directory config replaces the old one
 * without dropping a login in flight, and a config that cannot be built changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../firmware/src/config/load.ts';
import type { DirectoryConfig } from '../../../firmware/src/config/schema.ts';
import type {
  Directory,
  DirectoryHealth,
  DirectoryUser,
  VerifyResult,
} from '../../../firmware/src/directory/directory.ts';
import { SwappableDirectory } from '../../../firmware/src/directory/swappable.ts';

const user = (name: string): DirectoryUser => ({
  username: name,
  dn: `uid=${name}`,
  mobiles: [],
  groups: [],
  disabled: false,
});

/** A directory whose answers the test releases by hand, and that remembers being closed. */
class HeldDirectory implements Directory {
  closed = false;
  private readonly held: (() => void)[] = [];
  constructor(readonly name: string) {}
  async verifyPassword(username: string): Promise<VerifyResult> {
    if (this.closed) throw new Error(`${this.name} used after close`);
    await new Promise<void>((r) => this.held.push(r));
    return { ok: true, user: user(`${username}@${this.name}`) };
  }
  findUser(username: string): Promise<DirectoryUser | undefined> {
    return Promise.resolve(user(`${username}@${this.name}`));
  }
  async *listGroupMembers(): AsyncIterable<DirectoryUser> {
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((r) => this.held.push(r));
      yield user(`m${i}@${this.name}`);
    }
  }
  health(): DirectoryHealth {
    return { state: 'up', server: this.name };
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
  release(): void {
    for (const r of this.held.splice(0)) r();
  }
  get waiting(): number {
    return this.held.length;
  }
}

const tick = () => new Promise((r) => setImmediate(r));
const cfg = (group: string): DirectoryConfig => parseConfig({ directory: { kind: 'demo', group } }).directory;

describe('directory live reconfigure', () => {
  it('a login in flight finishes on the old directory; new logins use the new one; the old closes after', async () => {
    const a = new HeldDirectory('a');
    const b = new HeldDirectory('b');
    const d = new SwappableDirectory(a, () => Promise.resolve(b));
    const inFlight = d.verifyPassword('alice', 'pw');
    await tick();
    expect(a.waiting).toBe(1);
    const swapped = d.reconfigure(cfg('B'));
    await tick();
    expect(d.health()).toEqual({ state: 'up', server: 'b' });
    const next = d.verifyPassword('bob', 'pw');
    await tick();
    expect(b.waiting).toBe(1);
    expect(a.closed).toBe(false); // alice's bind is still out
    a.release();
    expect(await inFlight).toEqual({ ok: true, user: user('alice@a') });
    await swapped;
    expect(a.closed).toBe(true);
    b.release();
    expect(await next).toEqual({ ok: true, user: user('bob@b') });
    expect(b.closed).toBe(false);
  });

  it('a config that cannot be built changes nothing', async () => {
    const a = new HeldDirectory('a');
    const d = new SwappableDirectory(a, () => Promise.reject(new Error('cannot read the CA bundle')));
    await expect(d.reconfigure(cfg('B'))).rejects.toThrow(/CA bundle/);
    expect(a.closed).toBe(false);
    expect(await d.findUser('alice')).toEqual(user('alice@a'));
  });

  it('a sync running across a reconfigure reads all its pages from the directory it started on', async () => {
    const a = new HeldDirectory('a');
    const b = new HeldDirectory('b');
    const d = new SwappableDirectory(a, () => Promise.resolve(b));
    const seen: string[] = [];
    const sync = (async () => {
      for await (const u of d.listGroupMembers('MFA Users')) seen.push(u.username);
    })();
    await tick();
    a.release();
    await tick();
    const swapped = d.reconfigure(cfg('B'));
    for (let i = 0; i < 5; i++) {
      a.release();
      await tick();
    }
    await sync;
    await swapped;
    expect(seen).toEqual(['m0@a', 'm1@a', 'm2@a']);
    expect(a.closed).toBe(true);
  });

  it('reconfigures run in order, and close closes the one in use', async () => {
    const built: HeldDirectory[] = [];
    const d = new SwappableDirectory(new HeldDirectory('a'), (c) => {
      const x = new HeldDirectory(c.group);
      built.push(x);
      return Promise.resolve(x);
    });
    await Promise.all([d.reconfigure(cfg('B')), d.reconfigure(cfg('C'))]);
    expect(d.health().server).toBe('C');
    expect(built.map((x) => [x.name, x.closed])).toEqual([
      ['B', true],
      ['C', false],
    ]);
    await d.close();
    expect(built[1]?.closed).toBe(true);
  });
});
