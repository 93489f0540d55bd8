/**
 * The auth-policy routes through fastify's inject, over the real AuthAdmin on a real store: the
 * local-only guard, validation, and that no secret but the one handed out comes back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { AuthAdmin } from '../../../firmware/src/auth/admin.ts';
import { AuthGuard, guardSettings } from '../../../firmware/src/auth/guard.ts';
import { AuditLog } from '../../../firmware/src/audit/audit-log.ts';
import { cryptoRandom, systemClock } from '../../../firmware/src/clock.ts';
import { parseConfig } from '../../../firmware/src/config/load.ts';
import { DemoDirectory } from '../../../firmware/src/directory/demo.ts';
import { USERS_TABLE, type UserRecord } from '../../../firmware/src/directory/users.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';
import { testWeb, type TestWeb } from '../../helpers/web.ts';

describe('auth-policy web API', () => {
  let dir: string;
  let store: Store;
  let app: FastifyInstance;
  let web: TestWeb;
  let audit: AuditLog;
  let guard: AuthGuard;
  const local = { remoteAddress: '127.0.0.1' };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-auth-api-'));
    store = await openStore(dir);
    const config = parseConfig({ policy: { trustedNetworks: ['10.0.0.0/8'] } });
    guard = new AuthGuard(store, systemClock, cryptoRandom, Buffer.alloc(32, 1), () => guardSettings(config));
    audit = new AuditLog(store, systemClock);
    const admin = new AuthAdmin({
      store,
      guard,
      audit,
      clock: systemClock,
      config: () => config,
      directory: new DemoDirectory(),
    });
    web = await testWeb({ health: () => ({}) as never, authAdmin: admin });
    app = web.app;
  });
  afterAll(async () => {
    await web.close();
    await audit.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses anyone but this box or an admin session', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/auth/users/alice', remoteAddress: '192.0.2.5' });
    expect(r.statusCode).toBe(403);
    const h = await app.inject({
      method: 'GET',
      url: '/api/auth/users/alice',
      ...local,
      headers: { host: 'evil.example' },
    });
    // The web page's Host check refuses a foreign name before the route (DNS rebinding).
    expect(h.statusCode).toBe(421);
  });

  it('issues an override code once, shows it without the code, unlocks, audited with the admin', async () => {
    const issued = await app.inject({
      method: 'POST',
      url: '/api/auth/users/alice/overrides',
      ...local,
      payload: { ttl: '2h', actor: 'helpdesk' },
    });
    expect(issued.statusCode).toBe(200);
    const { code, id } = issued.json<{ code: string; id: string }>();
    expect(code).toMatch(/^\d{10}$/);
    for (let i = 0; i < 5; i++) await guard.lockout.failure('alice');
    const shown = await app.inject({ method: 'GET', url: '/api/auth/users/alice', ...local });
    expect(shown.statusCode).toBe(200);
    expect(shown.body).not.toContain(code);
    expect(shown.json()).toMatchObject({
      user: 'alice',
      lock: { locked: true, count: 5 },
      overrides: [{ id, issuedBy: 'helpdesk', usesLeft: 1 }],
    });
    const un = await app.inject({
      method: 'POST',
      url: '/api/auth/users/alice/unlock',
      ...local,
      payload: { actor: 'helpdesk' },
    });
    expect(un.json()).toMatchObject({ user: 'alice', was: { locked: true } });
    expect(await guard.lockout.state('alice')).toEqual({ locked: false, count: 0 });
    const after = (await app.inject({ method: 'GET', url: '/api/auth/users/alice', ...local })).json<{
      recent: { kind: string; action?: string; actor?: string }[];
    }>();
    expect(after.recent.filter((r) => r.kind === 'admin').map((r) => `${r.action}:${r.actor}`)).toEqual([
      'unlock:helpdesk',
      'override-issued:helpdesk',
    ]);
  });

  it('sets and clears the secondary number kept on the box, audited; refuses a bad number or an unsynced user', async () => {
    const post = (user: string, payload: Record<string, unknown>) =>
      app.inject({ method: 'POST', url: `/api/auth/users/${user}/secondary`, ...local, payload });
    const missing = await post('carol', { number: '+49 160 1234567' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json<{ message: string }>().message).toMatch(/not in the synced user list/);
    await store.table<UserRecord>(USERS_TABLE).put('carol', {
      username: 'carol',
      dn: 'CN=carol,DC=x',
      mobile: '+4915100000003',
      groups: ['MFA Users'],
      source: 'directory',
      syncedAt: 1,
    });
    const bad = await post('carol', { number: '12' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ message: string }>().message).toMatch(/"12": not a possible number/);
    const set = await post('carol', { number: '+49 160 1234567', actor: 'helpdesk' });
    expect(set.json()).toEqual({ user: 'carol', secondaryMobile: '+491601234567' });
    const shown = await app.inject({ method: 'GET', url: '/api/auth/users/carol', ...local });
    expect(shown.json()).toMatchObject({
      directory: { mobile: '+4915100000003', boxSecondaryMobile: '+491601234567' },
      recent: [
        { kind: 'admin', action: 'secondary-number-set', actor: 'helpdesk', detail: '(none) → ******4567' },
      ],
    });
    const cleared = await post('carol', { number: null });
    expect(cleared.json()).toEqual({ user: 'carol', was: '+491601234567' });
    expect((await store.table<UserRecord>(USERS_TABLE).get('carol'))?.overrides).toBeUndefined();
  });

  it('enrols a token (the URI once), imports seeds, and shows neither secret again', async () => {
    const e = await app.inject({
      method: 'POST',
      url: '/api/auth/users/bob/tokens',
      ...local,
      payload: { type: 'hotp', digits: 8 },
    });
    expect(e.statusCode).toBe(200);
    const secret = new URL(e.json<{ uri: string }>().uri).searchParams.get('secret') ?? '';
    expect(secret.length).toBeGreaterThan(20);
    const imp = await app.inject({
      method: 'POST',
      url: '/api/auth/tokens/import',
      ...local,
      payload: { csv: 'user,seed_hex,serial\nbob,3132333435363738393031323334353637383930,HW9\nx,zz,1' },
    });
    expect(imp.json()).toMatchObject({
      imported: [{ user: 'bob', serial: 'HW9' }],
      errors: ['line 3: seed_hex is not hex'],
    });
    const shown = await app.inject({ method: 'GET', url: '/api/auth/users/bob', ...local });
    expect(shown.body).not.toContain(secret);
    expect(shown.body).not.toContain('3132333435363738393031323334353637383930');
    expect(shown.body).not.toContain('sealed');
    expect(shown.json<{ tokens: unknown[] }>().tokens).toHaveLength(2);
  });

  it('explains a login condition by condition, and refuses bad input with a clear message', async () => {
    const r = await app.inject({
      method: 'GET',
      url: '/api/auth/explain?user=alice&ip=10.1.2.3&client=netscaler',
      ...local,
    });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ user: 'alice', found: 'directory', outcome: 'accept' });
    expect(r.json<{ lines: string[] }>().lines.join('\n')).toMatch(/trusted-network: MATCH → accept/);
    const bad = await app.inject({
      method: 'GET',
      url: '/api/auth/explain?user=alice&ip=not-an-ip',
      ...local,
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ message: string }>().message).toContain('not an IP address');
    const typo = await app.inject({
      method: 'POST',
      url: '/api/auth/users/alice/overrides',
      ...local,
      payload: { ttl: '1h', usse: 2 },
    });
    expect(typo.statusCode).toBe(400);
    const ttl = await app.inject({
      method: 'POST',
      url: '/api/auth/users/alice/overrides',
      ...local,
      payload: { ttl: '1m' },
    });
    expect(ttl.statusCode).toBe(400);
  });
});
