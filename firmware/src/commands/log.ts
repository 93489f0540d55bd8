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
import { parseFlags, type Command } from './command.ts';
import { storeReason } from './directory.ts';

type Format = 'text' | 'json' | 'csv';

const FILTER_FLAGS = ['kind', 'user', 'since', 'until', 'outcome', 'reason', 'client', 'challenge'] as const;

function usageError(msg: string): MfaError {
  return new MfaError(msg, ErrorCode.CliUsage);
}

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

export const logCommand: Command = {
  name: 'log',
  usage:
    'log --config FILE [--user U] [--since 2h] [--until T] [--outcome reject] [--reason R] [--client C] [--kind radius|sms|admin] [--limit N] [--json|--csv]',
  summary:
    'The auth log: RADIUS decisions and drops, SMS events, admin actions (through the service if it runs)',
  async run(args) {
    const { flags, positional } = parseFlags(args, ['json', 'csv']);
    if (positional.length > 0) throw usageError(`log: unexpected "${positional.join(' ')}"`);
    const file = flags.get('config') ?? process.env.MFABOX_CONFIG;
    if (typeof file !== 'string') throw usageError('log: --config FILE (or MFABOX_CONFIG) is required');
    const strings: FilterStrings = {};
    for (const f of FILTER_FLAGS) {
      const v = flags.get(f);
      if (v === true) throw usageError(`log: --${f} needs a value`);
      if (v !== undefined) strings[f] = v;
    }
    for (const k of flags.keys())
      if (![...FILTER_FLAGS, 'config', 'limit', 'json', 'csv'].includes(k))
        throw usageError(`log: unknown flag --${k}`);
    if (flags.has('json') && flags.has('csv')) throw usageError('log: choose one of --json and --csv');
    const format: Format = flags.has('json') ? 'json' : flags.has('csv') ? 'csv' : 'text';
    const rawLimit = flags.get('limit');
    let limit: number | undefined;
    if (rawLimit !== undefined) {
      limit = Number(rawLimit);
      if (!Number.isInteger(limit) || limit < 1) throw usageError('log: --limit must be a whole number ≥ 1');
    }
    const filter = parseFilter(strings, Date.now());
    const config = await loadConfigFile(file);

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
};
