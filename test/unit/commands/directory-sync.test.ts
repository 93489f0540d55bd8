/**
 * `mfabox directory sync` in-process when this test holds the store (as the running service
 * would): it goes through the local API, and when that fails too it says both reasons.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { directorySyncCommand } from '../../../firmware/src/commands/directory.ts';
import { emptyStatus, type SyncStatus } from '../../../firmware/src/directory/sync.ts';
import { ErrorCode, isMfaError } from '../../../firmware/src/errors.ts';
import type { HealthSnapshot } from '../../../firmware/src/health/health.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';
import { listenWeb, type WebListening } from '../../../firmware/src/web-api/listen.ts';
import { testWeb, type TestWeb } from '../../helpers/web.ts';
import type { SyncService } from '../../../firmware/src/web-api/routes/directory-sync.ts';

const health = (): HealthSnapshot => ({}) as HealthSnapshot;

/** A stand-in for the service's DirectorySync: answers with `next`, or fails like a dead DC. */
class StubSync implements SyncService {
  calls: { confirm?: boolean }[] = [];
  last: SyncStatus = emptyStatus('MFA Users', 'never');
  fail = false;
  run(opts: { confirm?: boolean }): Promise<SyncStatus> {
    this.calls.push(opts);
    if (this.fail) {
      this.last = { ...emptyStatus('MFA Users', 'failed'), error: 'DirectoryUnavailable: no DC answered' };
      return Promise.reject(new Error('no DC answered'));
    }
    this.last = { ...emptyStatus('MFA Users', 'ok'), seen: 2, added: 2, confirmed: opts.confirm === true };
    return Promise.resolve(this.last);
  }
  status(): Promise<SyncStatus> {
    return Promise.resolve(this.last);
  }
}

describe('mfabox directory sync while the store is held', () => {
  let dir: string;
  let store: Store;
  let web: TestWeb | undefined;
  let listening: WebListening | undefined;
  let out: string[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mfabox-synccmd-'));
    store = await openStore(join(dir, 'data'));
    out = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await listening?.close();
    listening = undefined;
    await web?.close();
    web = undefined;
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function config(port: number, address = '127.0.0.1'): string {
    const f = join(dir, 'config.json');
    writeFileSync(f, JSON.stringify({ dataDir: join(dir, 'data'), web: { address, port, tls: false } }));
    return f;
  }

  async function serve(sync: SyncService | undefined, address = '127.0.0.1'): Promise<number> {
    web = await testWeb(sync ? { health, directorySync: sync } : { health });
    listening = await listenWeb(web.app, { host: address, port: 0, tls: false });
    return listening.address.port;
  }

  async function failure(args: string[]): Promise<Error> {
    try {
      await directorySyncCommand.run(args);
    } catch (e) {
      return e as Error;
    }
    throw new Error('the command did not fail');
  }

  it('runs the sync through the service and passes --confirm', async () => {
    const sync = new StubSync();
    const port = await serve(sync);
    expect(await directorySyncCommand.run(['--config', config(port), '--confirm'])).toBe(0);
    expect(sync.calls).toEqual([{ confirm: true }]);
    expect(out.join('\n')).toMatch(/run by the mfabox service at http:\/\/127\.0\.0\.1:\d+/);
    expect(out.join('\n')).toMatch(/state:\s+ok \(confirmed\)/);
  });

  it('prints the failed status and exits like the offline path when the service’s sync fails', async () => {
    const sync = new StubSync();
    sync.fail = true;
    const e = await failure(['--config', config(await serve(sync))]);
    expect(isMfaError(e, ErrorCode.DirectorySyncAborted)).toBe(true);
    expect(e.message).toMatch(/no DC answered/);
    expect(out.join('\n')).toMatch(/state:\s+failed/);
  });

  it('gives both reasons in plain words when nothing answers', async () => {
    // A port that was just free: bind, read it, close.
    const port = await serve(undefined);
    await listening?.close();
    listening = undefined;
    const e = await failure(['--config', config(port)]);
    expect(isMfaError(e, ErrorCode.ServiceUnreachable)).toBe(true);
    expect(e.message).toMatch(/in use by another process/);
    expect(e.message).toMatch(/nothing answers at http:\/\/127\.0\.0\.1:\d+\/api\/directory\/sync/);
    expect(e.message).toMatch(/web\.address and web\.port/);
    expect(e.message).not.toMatch(/Sync button/);
  });

  it('says so when the running service has no sync API (an older version)', async () => {
    const e = await failure(['--config', config(await serve(undefined))]);
    expect(isMfaError(e, ErrorCode.ServiceUnreachable)).toBe(true);
    expect(e.message).toMatch(/has no sync API/);
  });

  it('refuses to run without a config', async () => {
    const saved = process.env.MFABOX_CONFIG;
    delete process.env.MFABOX_CONFIG;
    try {
      const e = await failure([]);
      expect(isMfaError(e, ErrorCode.CliUsage)).toBe(true);
    } finally {
      if (saved !== undefined) process.env.MFABOX_CONFIG = saved;
    }
  });

  const lan = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && !i.internal && i.family === 'IPv4')?.address;

  it.skipIf(lan === undefined)(
    'reaches a service whose web page is bound to a LAN address, through its extra loopback listener',
    async () => {
      const sync = new StubSync();
      const port = await serve(sync, lan);
      expect(listening?.loopback?.address).toBe('127.0.0.1');
      expect(listening?.loopback?.port).toBe(port);
      expect(await directorySyncCommand.run(['--config', config(port, lan)])).toBe(0);
      expect(sync.calls).toEqual([{ confirm: false }]);
      // Over the LAN address the same API refuses: the client is not loopback.
      const r = await fetch(`http://${lan}:${port}/api/directory/sync`);
      expect(r.status).toBe(403);
    },
  );
});
