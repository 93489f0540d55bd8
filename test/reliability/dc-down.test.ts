/**
 * Scenario 4, the DC goes down: slapd is killed mid-storm and the box fails over to the second DC.
 * With both down, step 1 gets a prompt Access-Reject with a reason (never a NAS timeout), and the
 * audit log says why.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModemSimulator } from '../../firmware/src/modem/simulator/index.ts';
import { openStore } from '../../firmware/src/store/store.ts';
import {
  bulkUser,
  makeBox,
  report,
  startDirectory,
  startModems,
  type Box,
  type DirectoryPeer,
} from './harness.ts';
import { Handsets, login, p99, pool, step1, waitReady } from './users.ts';

const USERS = 30;

describe('reliability: the DC goes down', () => {
  let dc1: DirectoryPeer;
  let dc2: DirectoryPeer;
  let sims: ModemSimulator[];
  let box: Box;
  let phones: Handsets;
  beforeAll(async () => {
    // Two DCs with the same users (the same generated data), each with its own CA: the box gets
    // both CAs in one bundle, as an admin would for two DCs.
    [dc1, dc2] = await Promise.all([startDirectory(USERS + 5), startDirectory(USERS + 5)]);
    sims = await startModems(1, 100);
    phones = new Handsets(sims);
    box = await makeBox({ dir: dc1, sims, directoryUrls: [dc1.url, dc2.url] });
    const bundle = join(box.root, 'dc-cas.pem');
    await writeFile(
      bundle,
      readFileSync(dc1.peer.facts.CA_FILE, 'utf8') + readFileSync(dc2.peer.facts.CA_FILE, 'utf8'),
    );
    const cfg = JSON.parse(readFileSync(box.configFile, 'utf8')) as { directory: Record<string, unknown> };
    cfg.directory.caFile = bundle;
    await writeFile(box.configFile, JSON.stringify(cfg, null, 2));
    await box.start();
    await waitReady(box, phones, USERS + 1, dc1.password);
  });
  afterAll(async () => {
    await box?.cleanup();
    for (const s of sims ?? []) await s.stop();
    await dc1?.peer.stop();
    await dc2?.peer.stop();
  });

  it('fails over to the second DC mid-storm; with both down, a prompt Access-Reject with a reason', async () => {
    const users = Array.from({ length: USERS }, (_, k) => k + 1);
    let killed: Promise<void> | undefined;
    const results = await pool(users, 5, async (i) => {
      if (i === Math.floor(USERS / 3)) killed = dc1.peer.stop();
      return login(box, phones, i, dc1.password, 20_000);
    });
    await killed;
    const accepted = results.filter((r) => r.step2 === 'Access-Accept');

    await dc2.peer.stop();
    const t0 = performance.now();
    const r = await step1(box, bulkUser(USERS + 2).name, dc1.password);
    const bothDownMs = Math.round(performance.now() - t0);
    const reason = r.attributes.get('Reply-Message')?.[0] ?? '';

    await box.stop();
    const store = await openStore(box.dataDir);
    let audited = false;
    try {
      for await (const [, v] of store.table<unknown>('audit').entries({ reverse: true, limit: 50 })) {
        const s = JSON.stringify(v);
        if (s.includes(bulkUser(USERS + 2).name) && /unavailable|directory|dc/i.test(s)) audited = true;
      }
    } finally {
      await store.close();
    }

    const pass = accepted.length === USERS && r.code === 'Access-Reject' && reason !== '' && audited;
    report('dc-down', pass, {
      requests: USERS + 1,
      accepted: accepted.length,
      sms: phones.count(),
      duplicates: phones.duplicates().length,
      p99ms: p99(accepted.map((x) => x.ms)),
      bothDownRejectMs: bothDownMs,
    });
    expect(accepted).toHaveLength(USERS);
    expect(r.code).toBe('Access-Reject');
    expect(reason).not.toBe('');
    // Well inside NetScaler's RADIUS timeout, so the NAS shows the reason instead of timing out.
    expect(bothDownMs).toBeLessThan(8_000);
    expect(audited).toBe(true);
  }, 300_000);
});
