import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../firmware/src/audit/audit-log.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';
import { login, testWeb, type TestWeb } from '../../helpers/web.ts';

const T0 = Date.parse('2026-12-06T08:00:00Z');

describe('GET /api/audit', () => {
  let dir: string;
  let store: Store;
  let log: AuditLog;
  let app: FastifyInstance;
  let web: TestWeb;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-audit-api-'));
    store = await openStore(dir);
    log = new AuditLog(store, { now: () => T0, monotonic: () => 0 });
    for (let i = 0; i < 250; i++)
      log.record({
        kind: 'radius',
        t: T0 + i * 1000,
        user: i % 10 === 0 ? 'CORP\\bob' : `user${i}`,
        client: i % 2 === 0 ? 'ns1' : 'ns2',
        outcome: i % 3 === 0 ? 'reject' : 'accept',
        reason: i % 3 === 0 ? 'bad-password' : 'passcode-ok',
      });
    log.record({ kind: 'admin', t: T0 + 500, action: 'unlock', actor: 'admin', user: 'bob', outcome: 'ok' });
    web = await testWeb({ auditLog: log });
    app = web.app;
  });
  afterAll(async () => {
    await web.close();
    await log.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const get = (url: string, remoteAddress = '127.0.0.1') => app.inject({ method: 'GET', url, remoteAddress });

  it('pages newest first with a cursor until every match was seen once', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res = await get(`/api/audit?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.statusCode).toBe(200);
      const body = res.json<{ records: { t: number }[]; next: string | null }>();
      seen.push(...body.records.map((r) => r.t));
      cursor = body.next;
      if (!cursor) break;
    }
    expect(seen).toHaveLength(251);
    expect(new Set(seen).size).toBe(251);
    expect(seen[0]).toBe(T0 + 249_000);
    expect([...seen].sort((a, b) => b - a)).toEqual(seen);
  });

  it('applies the same filters as mfabox log', async () => {
    const res = await get(
      `/api/audit?user=bob&outcome=reject&since=${new Date(T0).toISOString()}&kind=radius`,
    );
    const body = res.json<{ records: { user: string; outcome: string }[] }>();
    // i = 0, 30, 60, … 240: multiples of 10 and of 3.
    expect(body.records.map((r) => r.user)).toEqual(Array(9).fill('CORP\\bob'));
    const admin = await get('/api/audit?kind=admin&user=bob');
    expect(admin.json<{ records: { action: string }[] }>().records).toMatchObject([{ action: 'unlock' }]);
    const client = await get('/api/audit?client=ns2&limit=1000');
    expect(client.json<{ records: unknown[] }>().records).toHaveLength(125);
  });

  it('streams CSV and NDJSON of every match, oldest first', async () => {
    const csv = await get('/api/audit?format=csv&reason=bad-password');
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toMatch(/attachment; filename="mfabox-audit-.*\.csv"/);
    const rows = parse<Record<string, string>>(csv.body, { columns: true });
    expect(rows).toHaveLength(84);
    expect(rows[0]).toMatchObject({
      time: '2026-12-06T08:00:00.000Z',
      user: 'CORP\\bob',
      reason: 'bad-password',
    });
    const nd = await get('/api/audit?format=ndjson&client=ns1&outcome=accept');
    const lines = nd.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { client: string });
    expect(lines.length).toBe(125 - 42);
    expect(lines.every((l) => l.client === 'ns1')).toBe(true);
  });

  it('refuses bad filters with the reason, and anyone but this box', async () => {
    const bad = await get('/api/audit?since=yesterday');
    expect(bad.statusCode).toBe(400);
    expect(bad.json<{ message: string }>().message).toMatch(/since "yesterday"/);
    expect((await get('/api/audit?limit=5000')).statusCode).toBe(400);
    expect((await get('/api/audit?cursor=zzz')).statusCode).toBe(400);
    expect((await get('/api/audit?bogus=1')).statusCode).toBe(400);
    const lan = await get('/api/audit', '192.168.1.20');
    expect(lan.statusCode).toBe(401);
    expect(lan.body).not.toContain('bob');
    // A logged-in admin reads it from the LAN.
    const { headers } = await login(app);
    const admin = await app.inject({
      method: 'GET',
      url: '/api/audit?user=bob&limit=1',
      remoteAddress: '192.168.1.20',
      headers,
    });
    expect(admin.statusCode).toBe(200);
    expect(admin.json<{ records: { user: string }[] }>().records[0]?.user).toMatch(/bob/);
  });
});
