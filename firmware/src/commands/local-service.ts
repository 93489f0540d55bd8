/**
 * What the admin commands share to work whether or not the service runs: the `--config` option,
 * opening the store (held by the service while it runs), and calling the running service's
 * local API over loopback instead.
 */
import http from 'node:http';
import type { Config } from '../config/schema.ts';
import { brief } from '../directory/connection.ts';
import { ErrorCode, MfaError } from '../errors.ts';
import { openStore, type Store } from '../store/store.ts';
import { loopbackTarget } from '../web-api/loopback.ts';

export const configOption = {
  type: 'string',
  value: 'FILE',
  env: 'MFABOX_CONFIG',
  required: true,
  help: 'the config file mfabox runs with',
} as const;

/** Why the store did not open, in plain words: a held lock means the service has it. */
export function storeReason(dataDir: string, e: unknown): { locked: boolean; text: string } {
  for (let c: unknown = e; c instanceof Error; c = c.cause)
    if ((c as NodeJS.ErrnoException).code === 'LEVEL_LOCKED')
      return {
        locked: true,
        text: `the store at ${dataDir} is in use by another process (a running mfabox)`,
      };
  let deepest: unknown = e;
  while (deepest instanceof Error && deepest.cause instanceof Error) deepest = deepest.cause;
  return { locked: false, text: `cannot open the store at ${dataDir}: ${brief(deepest)}` };
}

export type ApiResult = { ok: true; status: number; body: unknown } | { ok: false; reason: string };

/** One request to the service's local API; never throws. */
export function callLocalApi(
  config: Config,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<ApiResult> {
  // With HTTPS the box keeps a plain loopback port for this command (web.localPort).
  const host = config.web.tls ? '127.0.0.1' : loopbackTarget(config.web.address);
  const port = config.web.tls ? config.web.localPort : config.web.port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve) => {
    const req = http.request(
      {
        host,
        port,
        path,
        method,
        headers: {
          accept: 'application/json',
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
        timeout: timeoutMs,
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (text.length < 4 * 1024 * 1024) text += d;
        });
        res.on('end', () => {
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ ok: true, status: res.statusCode ?? 0, body: json });
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
    req.end(payload);
  });
}

/**
 * Runs `here` on the store when this process can open it, else `there` through the running
 * service. A refusal from both says why, for each.
 */
export async function onStoreOrService<T>(
  config: Config,
  what: string,
  here: (store: Store) => Promise<T>,
  there: () => Promise<ApiResult>,
  fromApi: (r: { status: number; body: unknown }) => T,
): Promise<{ result: T; via: 'store' | 'service' }> {
  let store: Store;
  try {
    store = await openStore(config.dataDir);
  } catch (e) {
    const why = storeReason(config.dataDir, e);
    const r = await there();
    if (r.ok) {
      if (r.status >= 200 && r.status < 300) return { result: fromApi(r), via: 'service' };
      const msg =
        typeof r.body === 'object' &&
        r.body !== null &&
        'message' in r.body &&
        typeof r.body.message === 'string'
          ? r.body.message
          : `HTTP ${r.status}`;
      const code =
        typeof r.body === 'object' && r.body !== null && 'code' in r.body && typeof r.body.code === 'number'
          ? (r.body.code as ErrorCode)
          : r.status === 400
            ? ErrorCode.CliUsage
            : ErrorCode.ServiceUnreachable;
      if (r.status === 404 && msg === `HTTP 404`)
        throw new MfaError(
          `${what}: the running service has no such API (an older mfabox? restart it after an upgrade)`,
          ErrorCode.ServiceUnreachable,
        );
      throw new MfaError(`${what}: ${msg}`, code);
    }
    throw new MfaError(
      `${what} could not run, neither here nor through the service:\n  - here: ${why.text}\n  - through the service: ${r.reason}`,
      ErrorCode.ServiceUnreachable,
      { cause: e },
    );
  }
  try {
    return { result: await here(store), via: 'store' };
  } finally {
    await store.close();
  }
}
