/**
 * Scenario 2, a modem unplugged mid-storm (its pty closes, then comes back after 20 s). With two
 * modems the other takes over; with one, the queue waits and sends what is still valid. Zero
 * duplicates either way, and every login the NAS was challenged for completes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ModemSimulator } from '../../firmware/src/modem/simulator/index.ts';
import {
  makeBox,
  report,
  sleep,
  startDirectory,
  startModems,
  type Box,
  type DirectoryPeer,
} from './harness.ts';
import { Handsets, login, p99, pool, waitReady, type LoginResult } from './users.ts';

const UNPLUG_MS = 20_000;
const USERS = 24;

async function storm(
  modems: number,
): Promise<{ results: LoginResult[]; phones: Handsets; cleanup: () => Promise<void> }> {
  const dir: DirectoryPeer = await startDirectory(USERS + 5);
  const sims: ModemSimulator[] = await startModems(modems, 300);
  const phones = new Handsets(sims);
  const box: Box = await makeBox({ dir, sims });
  const cleanup = async (): Promise<void> => {
    await box.cleanup();
    for (const s of sims) await s.stop();
    await dir.peer.stop();
  };
  try {
    await box.start();
    // Every modem ready before the storm: one login per modem's worth of warm-up.
    await waitReady(box, phones, USERS + 1, dir.password);
    await sleep(1_000);
    const users = Array.from({ length: USERS }, (_, k) => k + 1);
    let unplugged: Promise<void> | undefined;
    const results = await pool(users, 6, async (i) => {
      // Pull the first modem once a third of the storm has started.
      if (i === Math.floor(USERS / 3)) unplugged = sims[0]?.unplug(UNPLUG_MS);
      return login(box, phones, i, dir.password, UNPLUG_MS + 40_000);
    });
    await unplugged;
    await sleep(2_000);
    return { results, phones, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

describe('reliability: modem unplugged mid-storm', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  for (const modems of [2, 1]) {
    it(`${modems} modem${modems > 1 ? 's' : ''}: every challenged login completes, no duplicate`, async () => {
      const { results, phones, cleanup } = await storm(modems);
      cleanups.push(cleanup);
      const challenged = results.filter((r) => r.step1 === 'Access-Challenge');
      const accepted = challenged.filter((r) => r.step2 === 'Access-Accept');
      const dups = phones.duplicates();
      const lost = challenged.length - accepted.length;
      const pass = lost === 0 && dups.length === 0 && challenged.length > 0;
      report(`modem-unplug-${modems}`, pass, {
        requests: results.length,
        challenged: challenged.length,
        sms: phones.count(),
        duplicates: dups.length,
        lost,
        p99ms: p99(accepted.map((r) => r.ms)),
      });
      // With two modems the other one carries the storm, so the NAS sees no refusals at all.
      if (modems === 2) expect(challenged).toHaveLength(USERS);
      expect(challenged.length).toBeGreaterThan(0);
      expect(lost).toBe(0);
      expect(dups).toEqual([]);
    }, 300_000);
  }
});
