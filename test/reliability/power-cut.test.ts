/**
 * Scenario 1, power cut: kill -9 the appliance at random points of a login storm, 20 times, and
 * restart it each time. Promises: LevelDB opens every time; no config or user is lost; every
 * challenge the NAS saw is still verifiable (or expired); no queued passcode is lost; no SMS goes
 * out twice, except an unknown-outcome resend (identical text, at most once, audited). A kill
 * keeps the page cache, so the write recorder also proves every challenge/outbox write was fsynced.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../firmware/src/store/store.ts';
import { runCli } from './cli.ts';
import { report, sleep, writesTo, type Box, type DirectoryPeer } from './harness.ts';
import { startRig, type Rig } from './rig.ts';
import type { Handsets } from './users.ts';
import { login, p99, passcodeIn, pool, step2, waitReady, type LoginResult } from './users.ts';
import { bulkUser } from './harness.ts';

// 20 cuts in `npm run test:reliability`; 5 in `npm test`, which must keep CI under 15 minutes.
const CUTS = Number(process.env.RELIABILITY_CUTS ?? (process.env.RELIABILITY_FULL === '1' ? 20 : 5));
const PER_ROUND = 8;

describe('reliability: power cut', () => {
  let dir: DirectoryPeer;
  let box: Box;
  let rig: Rig | undefined;
  let phones: Handsets;
  beforeAll(async () => {
    rig = await startRig({
      users: CUTS * (PER_ROUND + 1) + 20,
      // A network time long enough that many kills land between Ctrl-Z and +CMGS.
      smsDelayMs: 400,
      start: false,
    });
    ({ dir, phones, box } = rig);
  });
  afterAll(async () => {
    await rig?.stop();
  });

  it(`keeps every promise across ${CUTS} kill -9s during a login storm`, async () => {
    const sync = await runCli(['directory', 'sync', '--config', box.configFile]);
    expect(sync.code, sync.out).toBe(0);
    const configHash = createHash('sha256').update(readFileSync(box.configFile)).digest('hex');
    // A probe user per start: the box refuses logins until its modem is ready, and a cut before
    // then would test nothing.
    let probe = CUTS * PER_ROUND + 1;
    await box.start();
    await waitReady(box, phones, probe++, dir.password);

    const challenged: LoginResult[] = [];
    const latencies: number[] = [];
    let requests = 0;
    const codes = new Map<string, number>();
    let next = 1;
    for (let round = 0; round < CUTS; round++) {
      const users = Array.from({ length: PER_ROUND }, () => next++);
      // The cut lands at a random point measured in progress, not in wall time (a loaded machine
      // would otherwise cut before anything happened): after a random number of challenges went
      // out, plus a random delay that often falls between Ctrl-Z and +CMGS.
      const cutAfter = 1 + Math.floor(Math.random() * PER_ROUND);
      let seen = 0;
      let onChallenge = (): void => undefined;
      const enough = new Promise<void>((r) => (onChallenge = () => ++seen >= cutAfter && r()));
      const storm = Promise.all(
        users.map(async (i, k) => {
          await sleep(k * 40);
          requests++;
          const r = await login(box, phones, i, dir.password, 4_000, onChallenge).catch((): LoginResult => ({
            user: bulkUser(i).name,
            step1: undefined,
            ms: 0,
          }));
          codes.set(String(r.step1), (codes.get(String(r.step1)) ?? 0) + 1);
          if (r.step1 === 'Access-Challenge') challenged.push(r);
          if (r.step2) latencies.push(r.ms);
          return r;
        }),
      );
      await Promise.race([enough, sleep(20_000)]);
      await sleep(Math.floor(Math.random() * 600));
      await box.kill9();
      await storm;
      await box.start(); // LevelDB must open cleanly every time: start() fails otherwise.
      await waitReady(box, phones, probe++, dir.password);
    }

    // Every challenge the NAS saw and the user had not yet answered: its SMS arrives (before or
    // after the cut) and its passcode is accepted on the restarted box.
    let lost = 0;
    let recovered = 0;
    await pool(
      challenged.filter((c) => c.step2 !== 'Access-Accept'),
      8,
      async (c) => {
        const number = bulkUser(Number(c.user.slice(4))).number;
        const sms = await phones.nth(number, 1, 30_000);
        const code = sms ? passcodeIn(sms.text) : undefined;
        if (!code || !c.state) {
          lost++;
          return;
        }
        requests++;
        const r = await step2(box, c.user, code, c.state);
        if (r.code === 'Access-Accept') recovered++;
        else lost++;
      },
    );
    // Give any resend that the last restart owes a moment to land before counting copies.
    await sleep(2_000);
    const dups = phones.duplicates();
    const tooMany = dups.filter((d) => d.copies > 2);

    expect(await box.stop()).toBe(0);
    const store = await openStore(box.dataDir);
    let users = 0;
    let resendAudits = 0;
    try {
      for await (const _ of store.table('users').keys()) users++;
      for await (const [, v] of store.table<unknown>('audit').entries())
        if (/resen[dt]/i.test(JSON.stringify(v))) resendAudits++;
    } finally {
      await store.close();
    }
    // A second copy is allowed only for an outcome-unknown send, and each must be audited.
    const resent = dups.filter((d) => d.copies === 2).length;

    const challenges = writesTo(box, 'challenges');
    const outbox = writesTo(box, 'outbox');
    const pass =
      lost === 0 &&
      tooMany.length === 0 &&
      resendAudits >= resent &&
      challenges.unsynced === 0 &&
      outbox.unsynced === 0;
    report('power-cut', pass, {
      cuts: CUTS,
      requests,
      challenged: challenged.length,
      recovered,
      sms: phones.count(),
      resent,
      resendAudits,
      lost,
      p99ms: p99(latencies),
      unsyncedWrites: challenges.unsynced + outbox.unsynced,
      step1: [...codes].map(([k, v]) => `${k}:${v}`).join(','),
    });
    expect(createHash('sha256').update(readFileSync(box.configFile)).digest('hex')).toBe(configHash);
    expect(users).toBeGreaterThanOrEqual(CUTS * PER_ROUND);
    expect(challenged.length).toBeGreaterThan(CUTS);
    expect(lost).toBe(0);
    expect(tooMany).toEqual([]);
    expect(resendAudits).toBeGreaterThanOrEqual(resent);
    expect(challenges.total).toBeGreaterThan(0);
    expect(challenges.unsynced).toBe(0);
    expect(outbox.total).toBeGreaterThan(0);
    expect(outbox.unsynced).toBe(0);
  }, 600_000);
});
