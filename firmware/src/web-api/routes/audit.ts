/**
 * `GET /api/audit`: the auth log with the filters of `mfabox log` (kind, user, since, until,
 * outcome, reason, client, challenge).
 *   format=json (default): a page, newest first: `{ records: [{ key, ...record }], next }`; pass
 *     `next` back as `cursor` for the following page. limit [1...1000], default 100.
 *   format=ndjson | csv: every match, streamed (oldest first unless order=desc), for export and
 *     for `mfabox log` while the service holds the store.
 * Records hold usernames: the guard decides who may read them (this box only until the web login).
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AuditEntry, QueryOptions } from '../../audit/audit-log.ts';
import { csvStream } from '../../audit/csv.ts';
import { parseFilter, type AuditFilter } from '../../audit/query.ts';
import type { AuditRecord } from '../../audit/records.ts';
import { describeError, isMfaError } from '../../errors.ts';
import type { RequestGuard } from '../local-only.ts';

export const AUDIT_ROUTE = '/api/audit';

/** What the route needs of the AuditLog. */
export interface AuditReader {
  query(filter: AuditFilter, q?: QueryOptions): AsyncIterable<AuditEntry>;
}

const text = z.string().max(512).optional();
const querySchema = z.strictObject({
  kind: text,
  user: text,
  since: text,
  until: text,
  outcome: text,
  reason: text,
  client: text,
  challenge: text,
  cursor: z
    .string()
    .regex(/^a!\d{15}!\d{8}$/, 'not a cursor from a previous page')
    .optional(),
  order: z.enum(['asc', 'desc']).optional(),
  limit: z.coerce.number().int().min(1).optional(),
  format: z.enum(['json', 'ndjson', 'csv']).optional(),
});

async function* recordsOf(entries: AsyncIterable<AuditEntry>): AsyncGenerator<AuditRecord> {
  for await (const e of entries) yield e.record;
}

async function* ndjson(entries: AsyncIterable<AuditEntry>): AsyncGenerator<string> {
  for await (const e of entries) yield `${JSON.stringify(e.record)}\n`;
}

export function registerAuditRoutes(
  app: FastifyInstance,
  audit: AuditReader,
  guard: RequestGuard,
  now: () => number = Date.now,
): void {
  app.get(AUDIT_ROUTE, { preHandler: guard, config: { access: 'local' } }, async (req, reply) => {
    const parsed = querySchema.safeParse(req.query);
    if (!parsed.success) {
      const why = parsed.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; ');
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: why });
    }
    const q = parsed.data;
    let filter: AuditFilter;
    try {
      filter = parseFilter({ ...q, challenge: q.challenge }, now());
    } catch (e) {
      if (!isMfaError(e)) throw e;
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: e.message });
    }
    const format = q.format ?? 'json';
    if (format === 'json') {
      if (q.limit !== undefined && q.limit > 1000)
        return reply
          .code(400)
          .send({ statusCode: 400, error: 'Bad Request', message: 'limit: at most 1000' });
      const limit = q.limit ?? 100;
      const records: (AuditRecord & { key: string })[] = [];
      const opts: QueryOptions = { order: q.order ?? 'desc', limit: limit + 1 };
      if (q.cursor !== undefined) opts.after = q.cursor;
      for await (const e of audit.query(filter, opts)) records.push({ key: e.key, ...e.record });
      const more = records.length > limit;
      if (more) records.pop();
      return reply.send({ records, next: more ? (records.at(-1)?.key ?? null) : null });
    }
    const opts: QueryOptions = { order: q.order ?? 'asc' };
    if (q.limit !== undefined) opts.limit = q.limit;
    if (q.cursor !== undefined) opts.after = q.cursor;
    const entries = audit.query(filter, opts);
    if (format === 'csv') {
      const stamp = new Date(now()).toISOString().replace(/[:.]/g, '-');
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="mfabox-audit-${stamp}.csv"`)
        .send(csvStream(recordsOf(entries)));
    }
    const stream = Readable.from(ndjson(entries));
    stream.on('error', (e) => req.log.error({ err: describeError(e) }, 'audit export failed'));
    return reply.type('application/x-ndjson; charset=utf-8').send(stream);
  });
}
