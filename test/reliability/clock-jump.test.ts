/**
 * Scenario 8, the wall clock jumps ±1 h under the running box (a Pi has no battery clock, and NTP
 * steps it at boot). libfaketime moves the process's wall clock while monotonic time runs on, as
 * an NTP step would. Promises: a forward jump does not expire a live passcode, a backward jump
 * does not revive an expired one, and a lockout is not lifted early by a forward jump.
 * The LDAP steps run before a backward jump: the DC's test certificate is minutes old, and TLS
 * rightly refuses a certificate that is "not yet valid".
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bulkUser, report, sleep, type Box, type DirectoryPeer } from './harness.ts';
import { startRig, type Rig } from './rig.ts';
import type { Handsets } from './users.ts';
import { passcodeIn, step1, step2 } from './users.ts';

const TTL_SECONDS = 60;

function libfaketime(): string {
  const files = execFileSync('dpkg', ['-L', 'libfaketime'], { encoding: 'utf8' }).split('\n');
  const lib = files.find((f) => f.endsWith('/libfaketimeMT.so.1'));
  if (!lib) throw new Error('libfaketime is not installed (scripts/ensure-peers.sh faketime)');
  return lib;
}

describe('reliability: the wall clock jumps', () => {
  let dir: DirectoryPeer;
  let box: Box;
  let rig: Rig | undefined;
  let phones: Handsets;
  let offsetFile: string;
  const jump = (offset: string): void => writeFileSync(offsetFile, `${offset}\n`);

  beforeAll(async () => {
    offsetFile = join(mkdtempSync(join(tmpdir(), 'mfabox-faketime-')), 'offset');
    jump('+0');
    rig = await startRig({
      users: 20,
      smsDelayMs: 50,
      box: {
        config: { passcode: { ttlSeconds: TTL_SECONDS } },
        env: {
          LD_PRELOAD: libfaketime(),
          FAKETIME_TIMESTAMP_FILE: offsetFile,
          FAKETIME_NO_CACHE: '1',
          FAKETIME_DONT_FAKE_MONOTONIC: '1',
        },
      },
    });
    ({ dir, phones, box } = rig);
  });
  afterAll(async () => {
    await rig?.stop();
  });

  async function challenge(i: number): Promise<{ state: string; code: string }> {
    const u = bulkUser(i);
    const before = phones.byNumber.get(u.number)?.length ?? 0;
    const r = await step1(box, u.name, dir.password);
    expect(r.code).toBe('Access-Challenge');
    const sms = await phones.nth(u.number, before + 1, 20_000);
    return { state: r.attributes.get('State')?.[0] ?? '', code: passcodeIn(sms?.text ?? '') ?? '' };
  }

  it('+1 h keeps a live passcode, -1 h does not revive an expired one, +1 h does not lift a lock', async () => {
    // Forward: the passcode is seconds old whatever the wall clock says.
    const a = await challenge(1);
    jump('+3600');
    const forward = await step2(box, bulkUser(1).name, a.code, a.state);
    jump('+0');

    // Lockout: wrong passcodes until the user is locked, then the clock leaps an hour ahead.
    const u3 = bulkUser(3);
    let lockedReply = '';
    for (let round = 0; round < 4 && !lockedReply; round++) {
      const r = await step1(box, u3.name, dir.password);
      if (r.code !== 'Access-Challenge') {
        lockedReply = r.attributes.get('Reply-Message')?.[0] ?? r.code ?? '';
        break;
      }
      const state = r.attributes.get('State')?.[0] ?? '';
      for (let k = 0; k < 3; k++) {
        const w = await step2(box, u3.name, '000000', state);
        if (w.code !== 'Access-Challenge') break;
      }
    }
    jump('+3600');
    const afterLeap = await step1(box, u3.name, dir.password);
    jump('+0');

    // Backward: expire a passcode in real (monotonic) time, then step the clock an hour back.
    const b = await challenge(2);
    await sleep((TTL_SECONDS + 2) * 1000);
    jump('-3600');
    const backward = await step2(box, bulkUser(2).name, b.code, b.state);
    jump('+0');

    const stillLocked =
      afterLeap.code === 'Access-Reject' &&
      /lock/i.test(afterLeap.attributes.get('Reply-Message')?.[0] ?? '');
    const pass =
      forward.code === 'Access-Accept' &&
      backward.code === 'Access-Reject' &&
      /lock/i.test(lockedReply) &&
      stillLocked;
    report('clock-jump', pass, {
      forwardLivePasscode: String(forward.code),
      backwardExpiredPasscode: String(backward.code),
      lockedBeforeLeap: String(/lock/i.test(lockedReply)),
      lockedAfterLeap: String(stillLocked),
    });
    expect(forward.code).toBe('Access-Accept');
    expect(backward.code).toBe('Access-Reject');
    expect(lockedReply).toMatch(/lock/i);
    expect(afterLeap.code).toBe('Access-Reject');
    expect(afterLeap.attributes.get('Reply-Message')?.[0] ?? '').toMatch(/lock/i);
  }, 300_000);
});
