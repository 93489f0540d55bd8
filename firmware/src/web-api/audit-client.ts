/**
 * The `mfabox` command's side of `GET /api/audit`: streams the running service's answer (NDJSON
 * or CSV) over loopback, for when the service holds the store.
 */
import http from 'node:http';
import type { Readable } from 'node:stream';
import { AUDIT_ROUTE } from './routes/audit.ts';

export interface ServiceTarget {
  host: string;
  port: number;
  /** [1000...600000] ms without a byte before giving up; default 60000. */
  timeoutMs?: number;
}

export type AuditCallResult = { ok: true; body: Readable; url: string } | { ok: false; reason: string };

export function auditUrl(t: ServiceTarget, params: URLSearchParams): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `http://${host}:${t.port}${AUDIT_ROUTE}?${params.toString()}`;
}

/** Never throws: a refusal or a network problem comes back as `reason`, in plain words. */
export function callAuditApi(t: ServiceTarget, params: URLSearchParams): Promise<AuditCallResult> {
  const url = auditUrl(t, params);
  const timeoutMs = t.timeoutMs ?? 60_000;
  return new Promise((resolve) => {
    const req = http.get(
      {
        host: t.host,
        port: t.port,
        path: `${AUDIT_ROUTE}?${params.toString()}`,
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        const code = res.statusCode ?? 0;
        if (code === 200) {
          resolve({ ok: true, body: res, url });
          return;
        }
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (text.length < 64 * 1024) text += d;
        });
        res.on('end', () => {
          let message: string | undefined;
          try {
            const j: unknown = JSON.parse(text);
            if (typeof j === 'object' && j !== null && 'message' in j && typeof j.message === 'string')
              message = j.message;
          } catch {
            message = undefined;
          }
          resolve({
            ok: false,
            reason:
              code === 404
                ? `the service at ${url} has no audit API (an older mfabox still running? restart it after an upgrade)`
                : `the service at ${url} answered HTTP ${code}${message ? `: ${message}` : ''}`,
          });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${Math.round(timeoutMs / 1000)} s`)));
    req.on('error', (e: NodeJS.ErrnoException) =>
      resolve({
        ok: false,
        reason:
          e.code === 'ECONNREFUSED'
            ? `nothing answers at ${url}`
            : `the request to ${url} failed: ${e.message}`,
      }),
    );
  });
}
