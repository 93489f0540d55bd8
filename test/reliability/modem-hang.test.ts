/**
 * Scenario 3, the modem hangs (bytes in, nothing out). The driver notices, climbs its recovery
 * ladder, and health and the modem LED say so; once the modem answers again it is brought back
 * (re-initialised, no restart) and the passcodes queued meanwhile go out. The LEDs are the kernel
 * LED class in a fake sysfs tree (MFABOX_SYS_ROOT), read as the hardware would see them.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ModemSimulator } from '../../firmware/src/modem/simulator/index.ts';
import { report, sleep, type Box, type DirectoryPeer } from './harness.ts';
import { boxHealth } from './health.ts';
import { startRig, type Rig } from './rig.ts';
import type { Handsets } from './users.ts';
import { login, passcodeIn, step2, type LoginResult } from './users.ts';

const HANG_MS = 25_000;

/** Brightness changes of one LED over `ms`: up to 4 is solid (two flickers: an SMS each), 8+ is blinking. */
async function transitions(sys: string, led: string, ms: number): Promise<number> {
  const file = join(sys, 'class/leds', `mfabox-${led}`, 'brightness');
  let last = readFileSync(file, 'utf8').trim();
  let n = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await sleep(20);
    const v = readFileSync(file, 'utf8').trim();
    if (v !== last) n++;
    last = v;
  }
  return n;
}

describe('reliability: the modem hangs', () => {
  let dir: DirectoryPeer;
  let sims: ModemSimulator[];
  let box: Box;
  let rig: Rig | undefined;
  let phones: Handsets;
  let sys: string;
  beforeAll(async () => {
    sys = mkdtempSync(join(tmpdir(), 'mfabox-sys-'));
    for (const led of ['app', 'modem', 'radius', 'fault']) {
      const d = join(sys, 'class/leds', `mfabox-${led}`);
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'brightness'), '0');
      writeFileSync(join(d, 'max_brightness'), '1');
      writeFileSync(join(d, 'trigger'), 'none [default-on] heartbeat');
    }
    rig = await startRig({
      users: 20,
      smsDelayMs: 100,
      box: { env: { MFABOX_LEDS: 'led-class', MFABOX_SYS_ROOT: sys } },
    });
    ({ dir, sims, phones, box } = rig);
  });
  afterAll(async () => {
    await rig?.stop();
    rmSync(sys, { recursive: true, force: true });
  });

  it('is noticed in health and on the modem LED, recovered without a restart, and its queue sent', async () => {
    const ledBefore = await transitions(sys, 'modem', 2_000);
    sims[0]?.fault({ kind: 'hang' });
    const hungAt = Date.now();
    // A login during the hang: challenged (queued) or refused, never a crash or a NAS timeout.
    const during: Promise<LoginResult> = login(box, phones, 1, dir.password, HANG_MS + 60_000);

    // Wait for the driver to notice (its periodic check or the stuck send times out).
    let healthDuring = '';
    for (let k = 0; k < 60; k++) {
      healthDuring = JSON.stringify(await boxHealth(box));
      if (/"state":"(failed|initialising|absent)"/.test(healthDuring)) break;
      await sleep(1_000);
    }
    const noticedMs = Date.now() - hungAt;
    const ledDuring = await transitions(sys, 'modem', 2_000);

    await sleep(Math.max(0, HANG_MS - (Date.now() - hungAt)));
    sims[0]?.fault({ kind: 'clear' }); // the modem answers again (its firmware came back)
    const r = await during;
    let recoveredLogin = r.step2;
    if (r.step1 !== 'Access-Challenge') {
      // Refused during the hang: the next login after recovery must work.
      recoveredLogin = (await login(box, phones, 2, dir.password, 60_000)).step2;
    } else if (r.step2 !== 'Access-Accept' && r.state && r.smsText) {
      recoveredLogin = (await step2(box, r.user, passcodeIn(r.smsText) ?? '', r.state)).code;
    }
    let healthAfter = '';
    for (let k = 0; k < 60; k++) {
      healthAfter = JSON.stringify(await boxHealth(box));
      if (/"state":"registered"/.test(healthAfter)) break;
      await sleep(1_000);
    }
    const ledAfter = await transitions(sys, 'modem', 2_000);
    const restarted = box.child.exitCode !== null;

    const pass =
      ledBefore <= 4 && ledDuring >= 8 && ledAfter <= 4 && recoveredLogin === 'Access-Accept' && !restarted;
    report('modem-hang', pass, {
      noticedMs,
      ledBefore,
      ledDuring,
      ledAfter,
      duringLogin: `${r.step1}/${r.step2}`,
      recovered: String(recoveredLogin),
      sms: phones.count(),
      duplicates: phones.duplicates().length,
    });
    expect(ledBefore).toBeLessThanOrEqual(4);
    expect(healthDuring).toMatch(/"state":"(failed|initialising|absent)"/);
    expect(healthAfter).toMatch(/"state":"registered"/);
    expect(ledDuring).toBeGreaterThanOrEqual(8);
    expect(recoveredLogin).toBe('Access-Accept');
    expect(ledAfter).toBeLessThanOrEqual(4);
    expect(restarted).toBe(false);
    expect(phones.duplicates()).toEqual([]);
  }, 300_000);
});
