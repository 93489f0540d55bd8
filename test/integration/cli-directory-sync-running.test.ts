/**
 * `mfabox directory sync` as a real process while the appliance runs (in this process, holding
 * the LevelDB lock): the command cannot open the store, asks the running service over its
 * loopback API instead, and prints the same status and exit codes as the offline path. A sync held
 * in needs-confirmation is confirmed without stopping the service.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../firmware/src/config/load.ts';
import { USERS_TABLE, type UserRecord } from '../../firmware/src/directory/users.ts';
import { startAppliance, type Appliance } from '../../firmware/src/main.ts';
import { openStore } from '../../firmware/src/store/store.ts';
import { writeCliConfig } from '../helpers/e2e-box.ts';
import { mfabox as runCli } from '../helpers/mfabox-cli.ts';

/** The command's stdout and stderr together: the assertions read what the admin sees. */
async function mfabox(args: string[]): Promise<{ code: number | null; out: string }> {
  const r = await runCli(args);
  return { code: r.code, out: r.out + r.err };
}

describe('mfabox directory sync while the appliance runs', () => {
  let dir: string;
  let app: Appliance | undefined;
  let configFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-sync-cli-'));
    const dataDir = join(dir, 'data');
    // Five users a former sync stored who are not in the demo directory: removing them is > 10 %.
    const store = await openStore(dataDir);
    const users = store.table<UserRecord>(USERS_TABLE);
    for (let i = 1; i <= 5; i++)
      await users.put(`left${i}`, {
        username: `left${i}`,
        dn: `CN=left${i},DC=demo`,
        mobile: '+15550000099',
        groups: ['MFA Users'],
        source: 'directory',
        syncedAt: 0,
      });
    await store.close();
    const raw = {
      dataDir,
      deviceKeyFile: join(dir, 'device.key'),
      radius: { listen: [{ address: '127.0.0.1', port: 0 }], accountingPort: 0, clients: [] },
      directory: { kind: 'demo', syncIntervalMinutes: 0 },
      web: { address: '127.0.0.1', port: 0, tls: false },
      log: { level: 'warn' },
    };
    app = await startAppliance(parseConfig(raw), { demo: true });
    // The command reads the same config the service runs with, with the port it got.
    configFile = join(dir, 'config.json');
    await writeCliConfig(configFile, raw, app);
  }, 30_000);

  afterAll(async () => {
    await app?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('holds the mass removal (exit 3), then confirms it through the service (exit 0)', async () => {
    const held = await mfabox(['directory', 'sync', '--config', configFile]);
    expect(held.out).toContain('run by the mfabox service');
    expect(held.out).toMatch(/state:\s+needs-confirmation/);
    expect(held.out).toMatch(/would remove 5 users/);
    expect(held.out).toContain('skipped carol: no-number');
    expect(held.code).toBe(3);

    const confirmed = await mfabox(['directory', 'sync', '--config', configFile, '--confirm']);
    expect(confirmed.out).toMatch(/state:\s+ok \(confirmed\)/);
    expect(confirmed.out).toMatch(/removed 5\b/);
    expect(confirmed.code).toBe(0);
    // The service is still up and its status says what the command printed.
    const res = await fetch(new URL('/api/directory/sync', app?.webUrl));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ state: 'ok', removed: 5, confirmed: true });

    // Both runs are in the auth log as admin actions: the held one, then the confirmation.
    const log = await fetch(new URL('/api/audit?kind=admin&format=ndjson', app?.webUrl));
    const admin = (await log.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; detail?: string });
    const syncs = admin.filter((r) => r.action.startsWith('directory-sync'));
    expect(syncs.map((r) => r.action)).toEqual(['directory-sync', 'directory-sync-confirmed']);
    expect(syncs[0]?.detail).toMatch(/^needs-confirmation: .*5 removals held for confirmation/);
    expect(syncs[1]?.detail).toMatch(/^ok: .*5 removed/);
  }, 60_000);

  it('with the service stopped, syncs here and audits the run as the CLI one', async () => {
    await app?.stop();
    app = undefined;
    const here = await mfabox(['directory', 'sync', '--config', configFile]);
    expect(here.out).not.toContain('run by the mfabox service');
    expect(here.code, here.out).toBe(0);
    const log = await mfabox(['log', '--config', configFile, '--kind', 'admin', '--json']);
    const syncs = log.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; actor: string })
      .filter((r) => r.action.startsWith('directory-sync'));
    expect(syncs).toHaveLength(3);
    expect(syncs.some((r) => r.action === 'directory-sync' && r.actor === 'cli')).toBe(true);
  }, 60_000);
});
