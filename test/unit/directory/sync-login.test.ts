/**
 * Sync and login together: a member whose directory entry lost its number keeps the record the
 * sync stored, and the login texts the number entered on the box.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuthEngine, MESSAGES, type AuthEngineConfig } from '../../../firmware/src/auth/engine.ts';
import { passcodeSchema, policySchema } from '../../../firmware/src/config/schema.ts';
import { DemoDirectory, type DemoUser } from '../../../firmware/src/directory/demo.ts';
import { DirectorySync } from '../../../firmware/src/directory/sync.ts';
import type { UserRecord } from '../../../firmware/src/directory/users.ts';
import type { AccessRequest, HandlerReply, NasClient } from '../../../firmware/src/auth/types.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';
import { FakeClock, FakeOutbox, SeededRandom } from '../auth/doubles.ts';

const client: NasClient = {
  name: 'netscaler',
  match: '192.0.2.10',
  requireMessageAuthenticator: 'yes',
  passwordCheck: 'directory',
  acceptAttributes: [],
};

function person(username: string, mobiles: string[]): DemoUser {
  return {
    username,
    dn: `uid=${username},ou=people,dc=example,dc=com`,
    password: `${username}-pass`,
    mobiles,
    groups: ['MFA Users'],
    disabled: false,
  };
}

function req(userName: string): AccessRequest {
  return {
    source: { address: '192.0.2.10', port: 40000 },
    identifier: 1,
    userName,
    password: `${userName}-pass`,
  };
}

function message(r: HandlerReply): unknown {
  return r.attributes.find(([n]) => n === 'Reply-Message')?.[1];
}

/** One login through a fresh engine on `store` (German numbers, default passcode and policy). */
async function loginOnce(
  store: Store,
  directory: DemoDirectory,
  outbox: FakeOutbox,
  user: string,
  opts: { acceptPossibleNumbers?: boolean; seed?: string } = {},
): Promise<HandlerReply> {
  const config: AuthEngineConfig = {
    passcode: passcodeSchema.parse({}),
    policy: policySchema.parse({}),
    defaultCountry: 'DE',
    ...(opts.acceptPossibleNumbers === undefined
      ? {}
      : { acceptPossibleNumbers: opts.acceptPossibleNumbers }),
    deviceSecret: Buffer.alloc(32, 7),
  };
  // One seed per login: each challenge gets its own id in the outbox.
  const random = new SeededRandom(opts.seed ?? user);
  const engine = createAuthEngine({ directory, outbox, store, clock: new FakeClock(), random, config });
  try {
    return await engine.handle(req(user), client);
  } finally {
    await engine.stop();
  }
}

describe('a member without a directory number, after a sync', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-sync-login-'));
    store = await openStore(dir);
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('gets the passcode on the number entered on the box; without one, the login is refused', async () => {
    const sync = (directory: DemoDirectory) =>
      new DirectorySync({
        directory,
        store,
        group: 'MFA Users',
        defaultCountry: 'DE',
        maxRemovalPercent: 100,
      }).run();
    await sync(new DemoDirectory([person('alice', ['+4915112345678']), person('bob', ['+4915187654321'])]));
    const users = store.table<UserRecord>('users');
    const alice = await users.get('alice');
    await users.put('alice', { ...alice!, overrides: { secondaryMobile: '+4917000000001' } });

    // Both lose their directory number; both stay members.
    const directory = new DemoDirectory([person('alice', []), person('bob', [])]);
    const s = await sync(directory);
    expect(s).toMatchObject({ state: 'ok', removed: 0 });

    const outbox = new FakeOutbox(store);
    expect((await loginOnce(store, directory, outbox, 'alice')).code).toBe('Access-Challenge');
    expect((await outbox.entries()).map((e) => e.to)).toEqual(['+4917000000001']);
    const bob = await loginOnce(store, directory, outbox, 'bob');
    expect(bob.code).toBe('Access-Reject');
    expect(message(bob)).toBe(MESSAGES.noNumber);
  });

  it("a login name reused by another directory entry does not inherit the old owner's box number", async () => {
    await new DirectorySync({
      directory: new DemoDirectory([person('alice', ['+4915112345678'])]),
      store,
      group: 'MFA Users',
      defaultCountry: 'DE',
      maxRemovalPercent: 100,
    }).run();
    const users = store.table<UserRecord>('users');
    const old = await users.get('alice');
    await users.put('alice', { ...old!, overrides: { secondaryMobile: '+4917000000001' } });
    // A new alice, another entry (DN), no number of her own yet; the old record is still there.
    const directory = new DemoDirectory([
      { ...person('alice', []), dn: 'uid=alice,ou=contractors,dc=example,dc=com' },
    ]);
    const outbox = new FakeOutbox(store);
    const r = await loginOnce(store, directory, outbox, 'alice');
    expect(r.code).toBe('Access-Reject');
    expect(message(r)).toBe(MESSAGES.noNumber);
    expect(await outbox.entries()).toEqual([]);
  });

  it('texts only valid numbers when acceptPossibleNumbers is off; possible ones by default', async () => {
    // A fictional 555 number and one German mobile number a digit short: possible, not valid.
    const directory = new DemoDirectory([person('alice', ['+15550000001']), person('bob', ['0151 1234567'])]);
    const outbox = new FakeOutbox(store);
    const login = (acceptPossibleNumbers: boolean | undefined, user: string) =>
      loginOnce(store, directory, outbox, user, {
        ...(acceptPossibleNumbers === undefined ? {} : { acceptPossibleNumbers }),
        seed: `${user}-${String(acceptPossibleNumbers)}`,
      });
    for (const user of ['alice', 'bob']) {
      const r = await login(false, user);
      expect(r.code, user).toBe('Access-Reject');
      expect(message(r)).toBe(MESSAGES.noNumber);
    }
    expect(await outbox.entries()).toEqual([]);
    expect((await login(undefined, 'alice')).code).toBe('Access-Challenge');
    expect((await login(true, 'bob')).code).toBe('Access-Challenge');
    expect((await outbox.entries()).map((e) => e.to).sort()).toEqual(['+15550000001', '+491511234567']);
  });
});
