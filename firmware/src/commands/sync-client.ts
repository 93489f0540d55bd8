/**
 * The `mfabox` command's side of the local sync API: asks the running service, over loopback,
 * to run a sync (or for its last status). Used when the store is held by that service.
 */
import http from 'node:http';
import { z } from 'zod';
import type { SyncStatus } from '../directory/sync.ts';
import { SYNC_ROUTE } from '../web-api/routes/directory-sync.ts';

const note = z.object({ username: z.string(), reason: z.string(), detail: z.string().optional() });

/** What the CLI prints; a service of another version that answers something else is caught here. */
const syncStatusSchema = z.object({
  state: z.enum(['never', 'running', 'ok', 'needs-confirmation', 'failed']),
  group: z.string(),
  startedAt: z.number().optional(),
  finishedAt: z.number().optional(),
  durationMs: z.number().optional(),
  seen: z.number(),
  added: z.number(),
  updated: z.number(),
  removed: z.number(),
  unchanged: z.number(),
  skipped: z.array(note),
  skippedCount: z.number(),
  warnings: z.array(note),
  warningCount: z.number(),
  pendingRemovals: z
    .object({ count: z.number(), percent: z.number(), limitPercent: z.number(), sample: z.array(z.string()) })
    .optional(),
  error: z.string().optional(),
  confirmed: z.boolean(),
});

export interface SyncTarget {
  host: string;
  port: number;
  /** [1000...3600000] ms without a byte from the service before giving up. Default 600000: a sync of a
   *  big domain behind a slow DC, or a confirmed one queued behind a running one, takes a while. */
  timeoutMs?: number;
}

export type SyncCallResult =
  | { ok: true; status: SyncStatus }
  /** The service could not be asked, or refused: `reason` says why in plain words. */
  | { ok: false; reason: string };

export function targetUrl(t: SyncTarget): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `http://${host}:${t.port}${SYNC_ROUTE}`;
}

function plainNetworkError(e: NodeJS.ErrnoException, url: string): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return `nothing answers at ${url}`;
    case 'EADDRNOTAVAIL':
    case 'ENETUNREACH':
      return `cannot reach ${url} (${e.code})`;
    default:
      return `the request to ${url} failed: ${e.message}`;
  }
}

/** POST (run, with confirm) or GET (status) the local sync API. Never throws. */
export function callSyncApi(
  t: SyncTarget,
  op: { run: true; confirm: boolean } | { run: false },
): Promise<SyncCallResult> {
  const url = targetUrl(t);
  const body = op.run ? JSON.stringify({ confirm: op.confirm }) : undefined;
  const timeoutMs = t.timeoutMs ?? 600_000;
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: t.host,
        port: t.port,
        path: SYNC_ROUTE,
        method: op.run ? 'POST' : 'GET',
        headers: {
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        timeout: timeoutMs,
        // One connection, closed after the answer: the command exits at once.
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (text.length < 16 * 1024 * 1024) text += d;
        });
        res.on('error', (e) => resolve({ ok: false, reason: plainNetworkError(e, url) }));
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          const status = syncStatusSchema.safeParse(json);
          // 200 (ran) and 502 (ran and failed) carry a status; the caller prints it either way.
          if ((code === 200 || code === 502) && status.success) {
            resolve({ ok: true, status: status.data as SyncStatus });
            return;
          }
          const message =
            typeof json === 'object' && json !== null && 'message' in json && typeof json.message === 'string'
              ? json.message
              : undefined;
          if (code === 404)
            resolve({
              ok: false,
              reason: `the service at ${url} has no sync API (an older mfabox still running? restart it after an upgrade)`,
            });
          else
            resolve({
              ok: false,
              reason: `the service at ${url} answered HTTP ${code}${message ? `: ${message}` : ' with something that is not a sync status'}`,
            });
        });
      },
    );
    req.on('timeout', () => {
      req.destroy(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ ok: false, reason: plainNetworkError(e, url) }));
    req.end(body);
  });
}
