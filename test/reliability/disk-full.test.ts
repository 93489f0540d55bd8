/**
 * Scenario 7, disk full: the data directory is a small tmpfs that a filler file fills up. RADIUS
 * keeps answering (an Access-Reject with a reason while a challenge cannot be stored durably;
 * never a timeout, never a crash), the audit drops its overflow with a counter, health shows the
 * store degraded, and the box recovers by
 * itself once space returns. Needs root (mount), as CI has.
 */
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import radius from 'radius';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bulkUser, report, sleep, type Box, type DirectoryPeer } from './harness.ts';
import { startRig, type Rig } from './rig.ts';
import type { Handsets } from './users.ts';
import { login, step1 } from './users.ts';
import { boxHealth } from './health.ts';

const isRoot = process.getuid?.() === 0;
const AUDIT_BUFFER = 100;

/** Forged requests (the wrong secret): each is dropped, and each drop is one audit record. */
async function forgedRequests(box: Box, n: number): Promise<void> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  for (let i = 0; i < n; i++) {
    const packet = radius.encode({
      code: 'Access-Request',
      secret: 'not-the-shared-secret-at-all',
      identifier: i % 256,
      attributes: [
        ['User-Name', `forged${i}`],
        ['User-Password', 'x'],
      ],
      add_message_authenticator: true,
    });
    sock.send(packet, box.radiusPort, '127.0.0.1');
    if (i % 20 === 19) await sleep(20);
  }
  await sleep(500);
  sock.close();
}

interface AuditHealthView {
  audit?: { written: number; dropped: number; buffered: number };
}

describe.runIf(isRoot)('reliability: disk full', () => {
  let dir: DirectoryPeer;
  let box: Box;
  let rig: Rig | undefined;
  let phones: Handsets;
  let mnt: string;
  const filler = (): string => join(mnt, 'filler');
  beforeAll(async () => {
    mnt = mkdtempSync(join(tmpdir(), 'mfabox-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt]);
    mkdirSync(join(mnt, 'data'));
    // A small audit buffer, so a short test can overflow it while the disk is full.
    rig = await startRig({
      users: 40,
      smsDelayMs: 50,
      box: { dataDir: join(mnt, 'data'), config: { audit: { maxBuffered: AUDIT_BUFFER } } },
    });
    ({ dir, phones, box } = rig);
  });
  afterAll(async () => {
    await rig?.stop();
    if (mnt) {
      execFileSync('umount', ['-l', mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });

  it('answers every request, shows the store degraded, and recovers when space returns', async () => {
    // Fill the disk: dd stops at ENOSPC, which is the point; a second pass in pages takes the
    // 64 KiB dd's last block left. A write into a page LevelDB's log already holds can still
    // succeed, so a challenge or two may be stored durably even now, which keeps the promise.
    for (const [file, bs] of [
      [filler(), '64k'],
      [`${filler()}-tail`, '4k'],
    ] as const) {
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${file}`, `bs=${bs}`], { stdio: 'ignore' });
      } catch {
        /* no space left: expected */
      }
    }
    const full: { code: string | undefined; reason: string; ms: number }[] = [];
    for (let i = 1; i <= 10; i++) {
      const t0 = performance.now();
      const r = await step1(box, bulkUser(i).name, dir.password);
      full.push({
        code: r.code,
        reason: r.attributes.get('Reply-Message')?.[0] ?? '',
        ms: Math.round(performance.now() - t0),
      });
    }
    // More audit records than the buffer holds while nothing can be written: the oldest go, counted.
    await forgedRequests(box, AUDIT_BUFFER * 2);
    const degraded = await boxHealth(box);
    const alive = box.child.exitCode === null && box.child.signalCode === null;

    rmSync(filler());
    rmSync(`${filler()}-tail`, { force: true });
    // The box notices by itself: no restart, no admin.
    let after = await login(box, phones, 20, dir.password, 20_000);
    for (let k = 0; k < 30 && after.step2 !== 'Access-Accept'; k++) {
      await sleep(1_000);
      after = await login(box, phones, 21 + k, dir.password, 20_000);
    }
    // The audit retries on its own flush interval (1 s): give it a few to write what it held.
    let healthy = await boxHealth(box);
    for (let k = 0; k < 20 && ((healthy as AuditHealthView).audit?.buffered ?? 0) > 0; k++) {
      await sleep(500);
      healthy = await boxHealth(box);
    }
    const auditFull = (degraded as AuditHealthView).audit;
    const auditAfter = (healthy as AuditHealthView).audit;

    const answered = full.filter((f) => f.code !== undefined).length;
    const rejectsWithReason = full.filter((f) => f.code === 'Access-Reject' && f.reason !== '').length;
    const challengesWhileFull = full.filter((f) => f.code === 'Access-Challenge').length;
    const pass =
      alive &&
      answered === full.length &&
      rejectsWithReason + challengesWhileFull === full.length &&
      rejectsWithReason >= full.length / 2 &&
      after.step2 === 'Access-Accept' &&
      /"writable":false/.test(JSON.stringify(degraded)) &&
      /"writable":true/.test(JSON.stringify(healthy)) &&
      (auditFull?.dropped ?? 0) > 0 &&
      auditAfter?.buffered === 0;
    report('disk-full', pass, {
      requests: full.length,
      answered,
      rejectsWithReason,
      challengesWhileFull,
      maxMs: Math.max(...full.map((f) => f.ms)),
      recovered: String(after.step2),
      auditDropped: auditFull?.dropped ?? -1,
      auditBufferedWhileFull: auditFull?.buffered ?? -1,
      auditBufferedAfter: auditAfter?.buffered ?? -1,
    });
    expect(alive).toBe(true);
    expect(answered).toBe(full.length);
    // A challenge that could not be stored is never sent: each answer is a reject with a reason
    // (or, for the first request, a challenge whose write happened to fit).
    expect(rejectsWithReason + challengesWhileFull).toBe(full.length);
    expect(rejectsWithReason).toBeGreaterThanOrEqual(full.length / 2);
    expect(JSON.stringify(degraded)).toMatch(/"writable":false/);
    expect(after.step2).toBe('Access-Accept');
    expect(JSON.stringify(healthy)).toMatch(/"writable":true/);
    // The audit held what it could, dropped the overflow with a count, and wrote the rest after.
    expect(auditFull?.buffered).toBeLessThanOrEqual(AUDIT_BUFFER);
    expect(auditFull?.dropped).toBeGreaterThan(0);
    expect(auditAfter?.buffered).toBe(0);
    expect(auditAfter?.written).toBeGreaterThan(0);
    expect(auditAfter?.dropped).toBeGreaterThanOrEqual(auditFull?.dropped ?? 0);
  }, 300_000);
});
