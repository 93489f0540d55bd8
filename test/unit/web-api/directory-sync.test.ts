/**
 * The local sync API through fastify's inject (no socket): loopback only, body validation, confirm
 * passed through, and concurrent POSTs sharing one run of the real DirectorySync on LevelDB.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Directory, DirectoryUser } from '../../../firmware/src/directory/directory.ts';
import { DirectorySync, type SyncStatus } from '../../../firmware/src/directory/sync.ts';
import { USERS_TABLE, type UserRecord } from '../../../firmware/src/directory/users.ts';
import type { HealthSnapshot } from '../../../firmware/src/health/health.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';
import { testWeb, type TestWeb } from '../../helpers/web.ts';

const member = (username: string): DirectoryUser => ({
  username,
  dn: `CN=${username},DC=x`,
  mobiles: ['+4915100000001'],
  groups: ['MFA Users'],
  disabled: false,
});

/** A directory whose listing waits for `release()`, so requests can pile up on one run. */
class GatedDirectory implements Directory {
  members: DirectoryUser[] = [];
  listings = 0;
  private gate: Promise<void> = Promise.resolve();
  private open: () => void = () => undefined;
  hold(): void {
    this.gate = new Promise((r) => (this.open = r));
  }
  release(): void {
    this.open();
  }
  verifyPassword(): never {
    throw new Error('not used');
  }
  findUser(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  async *listGroupMembers(): AsyncIterable<DirectoryUser> {
    this.listings++;
    await this.gate;
    for (const m of this.members) yield m;
  }
  health() {
    return { state: 'up' as const };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const health = (): HealthSnapshot => ({}) as HealthSnapshot;

describe('/api/directory/sync', () => {
  let dir: string;
  let store: Store;
  let directory: GatedDirectory;
  let app: FastifyInstance;
  let web: TestWeb;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mfabox-webapi-'));
    store = await openStore(dir);
    directory = new GatedDirectory();
    const sync = new DirectorySync({
      directory,
      store,
      group: 'MFA Users',
      defaultCountry: 'DE',
      maxRemovalPercent: 10,
    });
    web = await testWeb({ health, directorySync: sync });
    app = web.app;
  });
  afterEach(async () => {
    await web.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (
    payload?: unknown,
    extra: { remoteAddress?: string; headers?: Record<string, string> } = {},
  ) =>
    app.inject({
      method: 'POST',
      url: '/api/directory/sync',
      ...(payload === undefined ? {} : { payload: payload as object }),
      ...extra,
    });

  it('answers GET with "never" before any run, and with the last status after one', async () => {
    const before = await app.inject({ method: 'GET', url: '/api/directory/sync' });
    expect(before.statusCode).toBe(200);
    expect(before.json<SyncStatus>().state).toBe('never');

    directory.members = [member('alice'), member('bob')];
    const run = await post();
    expect(run.statusCode).toBe(200);
    expect(run.json<SyncStatus>()).toMatchObject({ state: 'ok', added: 2, seen: 2, confirmed: false });
    const after = await app.inject({ method: 'GET', url: '/api/directory/sync', remoteAddress: '::1' });
    expect(after.json<SyncStatus>()).toMatchObject({ state: 'ok', added: 2 });
  });

  it.each(['10.0.0.5', '192.168.1.20', '::ffff:10.0.0.5', 'fe80::1'])(
    'refuses %s with 403 and runs nothing, for GET and POST',
    async (remoteAddress) => {
      const p = await post({ confirm: true }, { remoteAddress });
      expect(p.statusCode).toBe(403);
      expect(p.json<{ message: string }>().message).toMatch(/admin session.*on the box itself/);
      const g = await app.inject({ method: 'GET', url: '/api/directory/sync', remoteAddress });
      expect(g.statusCode).toBe(403);
      expect(g.body).not.toContain('alice');
      expect(directory.listings).toBe(0);
    },
  );

  it('trusts the socket, not X-Forwarded-For, and refuses a non-loopback Host (DNS rebinding)', async () => {
    const spoofed = await post(undefined, {
      remoteAddress: '10.0.0.5',
      headers: { 'x-forwarded-for': '127.0.0.1', 'x-real-ip': '127.0.0.1' },
    });
    expect(spoofed.statusCode).toBe(403);
    const rebound = await post(undefined, { headers: { host: 'evil.example:8080' } });
    expect(rebound.statusCode).toBe(421);
    expect(rebound.json<{ message: string }>().message).toMatch(/does not answer to the name evil\.example/);
    expect(directory.listings).toBe(0);
    // The health API needs a session (or the monitoring token) from anywhere, loopback included.
    expect(
      (await app.inject({ method: 'GET', url: '/api/health', remoteAddress: '10.0.0.5' })).statusCode,
    ).toBe(401);
  });

  it.each([
    ['a string for confirm', { confirm: 'yes' }, /confirm/],
    ['a misspelt key', { confirmed: true }, /confirmed/],
    ['an array', [true], /invalid body/],
  ])('answers 400 with a clear error for %s, and runs nothing', async (_name, payload, re) => {
    const r = await post(payload);
    expect(r.statusCode).toBe(400);
    const b = r.json<{ statusCode: number; message: string }>();
    expect(b.statusCode).toBe(400);
    expect(b.message).toMatch(re);
    expect(directory.listings).toBe(0);
  });

  it('answers 400 for JSON that does not parse and 415 for a form post, without crashing', async () => {
    const bad = await app.inject({
      method: 'POST',
      url: '/api/directory/sync',
      headers: { 'content-type': 'application/json' },
      payload: '{"confirm": tru',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ message: string }>().message).toMatch(/JSON/);
    const form = await app.inject({
      method: 'POST',
      url: '/api/directory/sync',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'confirm=true',
    });
    expect(form.statusCode).toBe(415);
    expect(directory.listings).toBe(0);
    // Still serving.
    directory.members = [member('alice')];
    expect((await post({})).statusCode).toBe(200);
  });

  it('holds mass removals, then removes them when the POST confirms', async () => {
    const users = store.table<UserRecord>(USERS_TABLE);
    for (const u of ['alice', 'bob', 'carol', 'dave'])
      await users.put(u, {
        username: u,
        dn: `CN=${u},DC=x`,
        mobile: '+4915100000001',
        groups: [],
        source: 'directory',
        syncedAt: 0,
      });
    directory.members = [member('alice')];
    const held = await post({ confirm: false });
    expect(held.statusCode).toBe(200);
    expect(held.json<SyncStatus>()).toMatchObject({
      state: 'needs-confirmation',
      removed: 0,
      pendingRemovals: { count: 3, limitPercent: 10 },
    });
    expect(await users.get('bob')).toBeDefined();

    const confirmed = await post({ confirm: true });
    expect(confirmed.statusCode).toBe(200);
    expect(confirmed.json<SyncStatus>()).toMatchObject({ state: 'ok', removed: 3, confirmed: true });
    expect(await users.get('bob')).toBeUndefined();
    expect(await users.get('alice')).toBeDefined();
  });

  it('lets concurrent POSTs share one run', async () => {
    directory.members = [member('alice')];
    directory.hold();
    const replies = Promise.all([post(), post({}), post({ confirm: false })]);
    // All three are waiting on one listing (the hooks before the route take a moment on a busy machine).
    await vi.waitFor(() => expect(directory.listings).toBe(1), { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 50));
    expect(directory.listings).toBe(1);
    const running = await app.inject({ method: 'GET', url: '/api/directory/sync' });
    expect(running.json<SyncStatus>().state).toBe('running');
    directory.release();
    const done = await replies;
    expect(directory.listings).toBe(1);
    const bodies = done.map((r) => r.json<SyncStatus>());
    for (const b of bodies) expect(b).toMatchObject({ state: 'ok', added: 1 });
    expect(new Set(bodies.map((b) => b.startedAt)).size).toBe(1);
  });

  it('runs a confirming POST after the run it arrived during, confirmed', async () => {
    directory.members = [member('alice')];
    directory.hold();
    const plain = post();
    await vi.waitFor(() => expect(directory.listings).toBe(1), { timeout: 5000 });
    const confirming = post({ confirm: true });
    await new Promise((r) => setTimeout(r, 20));
    expect(directory.listings).toBe(1);
    directory.release();
    const [a, b] = await Promise.all([plain, confirming]);
    expect(a.json<SyncStatus>().confirmed).toBe(false);
    expect(b.json<SyncStatus>()).toMatchObject({ state: 'ok', confirmed: true });
    expect(directory.listings).toBe(2);
  });

  it('answers 502 with the failed status when the directory fails', async () => {
    directory.members = [member('alice')];
    directory.listGroupMembers = async function* () {
      yield await Promise.reject(new Error('DC went away'));
    };
    const r = await post();
    expect(r.statusCode).toBe(502);
    const s = r.json<SyncStatus>();
    expect(s.state).toBe('failed');
    expect(s.error).toMatch(/DC went away/);
  });
});
