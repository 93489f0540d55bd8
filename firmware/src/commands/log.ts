/**
 * `mfabox log`: the auth log, filtered, as text lines, JSON lines or CSV. Like `directory sync`,
 * it reads the store itself when mfabox is stopped, and asks the running service over loopback
 * when the service holds the store.
 */
import { once } from 'node:events';
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import { AuditLog, type AuditEntry } from '../audit/audit-log.ts';
import { textLine } from '../audit/columns.ts';
import { csvStream } from '../audit/csv.ts';
import { parseFilter, type AuditFilter, type FilterStrings } from '../audit/query.ts';
import type { AuditRecord } from '../audit/records.ts';
import { systemClock } from '../clock.ts';
import { loadConfigFile } from '../config/load.ts';
import { ErrorCode, MfaError } from '../errors.ts';
import { openStore, type Store } from '../store/store.ts';
import { callAuditApi } from '../web-api/audit-client.ts';
import { loopbackTarget } from '../web-api/loopback.ts';
import { defineCommand, usageError } from './command.ts';
import { configOption, storeReason } from './local-service.ts';

type Format = 'text' | 'json' | 'csv';

const FILTER_FLAGS = ['kind', 'user', 'since', 'until', 'outcome', 'reason', 'client', 'challenge'] as const;

/** Writes with backpressure; a closed pipe (`mfabox log | head`) ends the output quietly. */
async function write(chunk: string | Buffer): Promise<void> {
  if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
}

async function* records(entries: AsyncIterable<AuditEntry>): AsyncGenerator<AuditRecord> {
  for await (const e of entries) yield e.record;
}

async function* fromArray<T>(xs: T[]): AsyncGenerator<T> {
  for (const x of xs) yield await Promise.resolve(x);
}

async function print(format: Format, rs: AsyncIterable<AuditRecord>): Promise<number> {
  let n = 0;
  if (format === 'csv') {
    async function* counted(): AsyncGenerator<AuditRecord> {
      for await (const r of rs) {
        n++;
        yield r;
      }
    }
    for await (const chunk of csvStream(counted())) await write(chunk as Buffer);
    return n;
  }
  for await (const r of rs) {
    n++;
    await write(`${format === 'json' ? JSON.stringify(r) : textLine(r)}\n`);
  }
  return n;
}

/** The last `limit` matches, oldest first (they are read newest first, then turned round). */
async function lastN(rs: AsyncIterable<AuditRecord>, limit: number): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for await (const r of rs) if (out.push(r) >= limit) break;
  return out.reverse();
}

async function here(
  store: Store,
  filter: AuditFilter,
  limit: number | undefined,
  format: Format,
): Promise<number> {
  const log = new AuditLog(store, systemClock);
  try {
    const rs =
      limit === undefined
        ? records(log.query(filter))
        : fromArray(await lastN(records(log.query(filter, { order: 'desc', limit })), limit));
    return await print(format, rs);
  } finally {
    await store.close();
  }
}

async function* ndjsonRecords(body: Readable): AsyncGenerator<AuditRecord> {
  const lines = readline.createInterface({ input: body, crlfDelay: Infinity });
  for await (const line of lines) if (line.trim() !== '') yield JSON.parse(line) as AuditRecord;
}

const text = (value: string, help: string) => ({ type: 'string', value, help }) as const;

export const logCommand = defineCommand({
  name: 'log',
  summary:
    'The auth log: RADIUS decisions and drops, SMS events, admin actions (through the service if it runs)',
  details:
    'Times are UTC. --since/--until take a duration ago (30s, 15m, 2h, 7d) or a time (2026-12-06T08:00:00Z).\n' +
    'Text lines are key=value; --json prints one JSON record per line; --csv is RFC 4180 with a header.',
  options: {
    config: configOption,
    user: text('U', 'this user, however typed (bob, CORP\\bob, bob@corp.example), or a DN'),
    since: text('T', 'from this time or duration ago'),
    until: text('T', 'before this time or duration ago'),
    outcome: text('O', 'accept, reject, challenge, dropped; sms: queued, sent, failed, expired, delivered'),
    reason: text('R', 'a reason code (bad-password, malformed, …) or an ErrorCode name'),
    client: text('C', 'a NAS client name (or a modem for SMS records)'),
    kind: text('K', 'radius, sms or admin (comma-separated)'),
    challenge: text('ID', 'one challenge: its decision and SMS records'),
    limit: { type: 'integer', value: 'N', min: 1, max: 10_000_000, help: 'only the last N matches' },
    json: { type: 'boolean', help: 'one JSON record per line' },
    csv: { type: 'boolean', help: 'CSV with a header row' },
  },
  async run({ values }) {
    if (values.json && values.csv) throw usageError('log: choose one of --json and --csv');
    const format: Format = values.json ? 'json' : values.csv ? 'csv' : 'text';
    const strings: FilterStrings = {};
    for (const f of FILTER_FLAGS) {
      const v = values[f];
      if (v !== undefined) strings[f] = v;
    }
    const limit = values.limit;
    const filter = parseFilter(strings, Date.now());
    const config = await loadConfigFile(values.config);

    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
    });
    let store: Store;
    try {
      store = await openStore(config.dataDir);
    } catch (e) {
      const why = storeReason(config.dataDir, e);
      const params = new URLSearchParams();
      for (const f of FILTER_FLAGS) {
        const v = strings[f];
        if (v !== undefined) params.set(f, v);
      }
      params.set('format', 'ndjson');
      if (limit !== undefined) {
        params.set('order', 'desc');
        params.set('limit', String(limit));
      }
      const target = { host: loopbackTarget(config.web.address), port: config.web.port };
      const r = await callAuditApi(target, params);
      if (!r.ok)
        throw new MfaError(
          'log could not read the audit log, neither here nor through the service:\n' +
            `  - here: ${why.text}\n` +
            `  - through the service: ${r.reason}`,
          ErrorCode.ServiceUnreachable,
          { cause: e },
        );
      const rs =
        limit === undefined ? ndjsonRecords(r.body) : fromArray(await lastN(ndjsonRecords(r.body), limit));
      const n = await print(format, rs);
      if (n === 0 && format === 'text') console.error('(no matching records)');
      return 0;
    }
    const n = await here(store, filter, limit, format);
    if (n === 0 && format === 'text') console.error('(no matching records)');
    return 0;
  },
});
