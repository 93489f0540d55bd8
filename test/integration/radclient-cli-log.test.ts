/**
 * `mfabox log` as a real process, answering "why was Bob rejected?": radclient logs in against
 * the running appliance (demo directory, simulated modem over a pty); the command reads the log
 * through the service while it runs, and from the store itself once it is stopped.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Appliance } from '../../firmware/src/main.ts';
import { e2eConfig, nas, startE2eBox, writeCliConfig } from '../helpers/e2e-box.ts';
import { mfabox } from '../helpers/mfabox-cli.ts';
import { q } from '../helpers/radclient.ts';

const SECRET = 'cli-log-secret-0123';

describe('mfabox log (radclient, simulator over a pty)', () => {
  let app: Appliance | undefined;
  let dir: string;
  let configFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-cli-log-'));
    const raw = e2eConfig(
      dir,
      SECRET,
      { directory: { kind: 'demo', syncIntervalMinutes: 0 } },
      { address: '127.0.0.0/8' },
    );
    // The demo directory is refused (setup mode) outside the demo.
    app = await startE2eBox(raw, { demo: true });
    configFile = join(dir, 'config.json');
    await writeCliConfig(configFile, raw, app);
    // A dropped request (wrong secret) waits radclient's whole timeout: 2 s is enough on loopback.
    const { login, send } = nas(() => app?.radiusPort ?? 0, SECRET, { ip: '203.0.113.7', timeoutSeconds: 2 });
    expect((await login('CORP\\bob', 'not-his-password')).code).toBe('Access-Reject');
    expect((await login('alice', 'alice-pass')).code).toBe('Access-Challenge');
    const dropped = await send(
      [
        ['User-Name', q('bob')],
        ['User-Password', q('wrong-secret')],
        ['Calling-Station-Id', q('203.0.113.7')],
      ],
      'not-the-secret',
    );
    expect(dropped.code).toBeUndefined();
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers through the running service, then from the store once it stopped', async () => {
    const running = await mfabox(['log', '--config', configFile, '--user', 'bob', '--outcome', 'reject']);
    expect(running.code, running.err).toBe(0);
    const lines = running.out.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z radius reject {4}reason=bad-password user=CORP\\bob account=bob client=netscaler source=127\.0\.0\.1 callingStationId=203\.0\.113\.7 clientIp=203\.0\.113\.7 method=password step=password latencyMs=[\d.]+$/,
    );
    // Alice got as far as the directory: her record names her DN.
    // Her SMS 'queued' record may carry the same or an earlier millisecond than the decision.
    const alice = await mfabox([
      'log',
      '--config',
      configFile,
      '--user',
      'alice',
      '--kind',
      'radius',
      '--json',
    ]);
    expect(JSON.parse(alice.out.trim().split('\n')[0] ?? '{}')).toMatchObject({
      outcome: 'challenge',
      reason: 'challenge-sent',
      dn: 'CN=alice,CN=Users,DC=demo,DC=mfabox',
      method: 'password+sms',
    });

    const drops = await mfabox(['log', '--config', configFile, '--outcome', 'dropped', '--json']);
    const dropped = drops.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(dropped).toMatchObject([
      {
        kind: 'radius',
        outcome: 'dropped',
        reason: 'bad-message-authenticator',
        code: 'RadiusBadAuthenticator',
        client: 'netscaler',
      },
    ]);

    await app?.stop();
    app = undefined;
    const csv = await mfabox(['log', '--config', configFile, '--since', '1h', '--csv']);
    expect(csv.code).toBe(0);
    const rows = parse<Record<string, string>>(csv.out, { columns: true });
    expect(rows.map((r) => `${r.outcome} ${r.reason}`)).toEqual(
      expect.arrayContaining([
        'reject bad-password',
        'challenge challenge-sent',
        'dropped bad-message-authenticator',
        'queued ',
      ]),
    );
    const last = await mfabox(['log', '--config', configFile, '--kind', 'radius', '--limit', '1']);
    expect(last.out.trim().split('\n')).toHaveLength(1);
    expect(last.out).toContain('reason=bad-message-authenticator');
    const bad = await mfabox(['log', '--config', configFile, '--since', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('since "yesterday"');
  }, 180_000);
});
