/** Admin accounts: scrypt at rest, the first password, lockout, and the reset the appliance's button uses. */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AdminStore, adminsFile, resetAdminPassword } from '../../../firmware/src/web-api/admins.ts';

describe('AdminStore', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'mfabox-admins-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates one admin at first start with a generated password that must be changed, stored as scrypt, file 0600', async () => {
    const s = new AdminStore(adminsFile(dir));
    const first = await s.ensureFirst();
    expect(first?.username).toBe('admin');
    expect(first?.password).toMatch(/^[a-zA-Z0-9]{4}(-[a-zA-Z0-9]{4}){3}$/);
    expect(await s.ensureFirst()).toBeUndefined();
    const text = readFileSync(adminsFile(dir), 'utf8');
    expect(text).not.toContain(first?.password ?? 'x');
    expect(text).toMatch(/"hash": "scrypt\$32768\$8\$1\$/);
    expect(statSync(adminsFile(dir)).mode & 0o777).toBe(0o600);
    expect(await s.verify('admin', first?.password ?? '')).toEqual({
      ok: true,
      username: 'admin',
      mustChange: true,
    });
    expect(await s.verify('admin', 'wrong')).toEqual({ ok: false, reason: 'bad-credentials' });
  });

  it('locks an account after 5 failures, unknown names included', async () => {
    const s = new AdminStore(adminsFile(dir));
    await s.ensureFirst({ demo: true });
    for (let i = 0; i < 5; i++) expect((await s.verify('admin', 'nope')).ok).toBe(false);
    expect(await s.verify('admin', 'demo-admin')).toMatchObject({ ok: false, reason: 'locked' });
    for (let i = 0; i < 5; i++) await s.verify('ghost', 'nope');
    expect(await s.verify('ghost', 'nope')).toMatchObject({ reason: 'locked' });
  });

  it('resetAdminPassword sets a new generated password that must be changed, while a store is open', async () => {
    const s = new AdminStore(adminsFile(dir));
    await s.ensureFirst({ demo: true });
    const r = await resetAdminPassword({ dataDir: dir });
    expect(r.username).toBe('admin');
    expect((await s.verify('admin', 'demo-admin')).ok).toBe(false);
    expect(await s.verify('admin', r.password)).toEqual({ ok: true, username: 'admin', mustChange: true });
  });
});
