/** `mfabox modem probe` and `mfabox modem send` as a user runs them, against the pty simulator. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type ModemSimulator } from '../../firmware/src/modem/simulator/index.ts';
import { mfaboxEnv, mfaboxScript } from '../helpers/mfabox-entry.ts';

const run = promisify(execFile);
let sim: ModemSimulator;

beforeAll(async () => {
  sim = await startSimulator({ profile: 'quectel-ec25', smsDelayMs: 30 });
});
afterAll(async () => {
  await sim.stop();
});

const mfabox = (args: string[]) =>
  run(process.execPath, [mfaboxScript(), ...args], {
    env: mfaboxEnv({ MFABOX_LOG_LEVEL: 'silent' }),
    timeout: 30_000,
  });

describe('mfabox modem (CLI) against the simulator', () => {
  it('probe prints identity, SIM, registration, operator and signal', async () => {
    const { stdout } = await mfabox(['modem', 'probe', '--port', sim.path]);
    expect(stdout).toMatch(/^manufacturer\s+Quectel$/m);
    expect(stdout).toMatch(/^model\s+EC25$/m);
    expect(stdout).toMatch(/^profile\s+quectel-ec25$/m);
    expect(stdout).toMatch(/^sim\s+ready$/m);
    expect(stdout).toMatch(/^registration\s+registered/m);
    expect(stdout).toMatch(/^signal\s+-\d+ dBm, [0-5]\/5 bars$/m);
    expect(stdout).toMatch(/^operator\s+\S+/m);
  });

  it('send prints one message reference per part and the handset gets the text', async () => {
    const text = `CLI test ${'y'.repeat(170)}`;
    const got = sim.inbox.next((m) => m.text === text, 20_000);
    const { stdout } = await mfabox(['modem', 'send', '--port', sim.path, '--to', '+15550009999', text]);
    const refs = stdout.trim().split('\n').map(Number);
    const sms = await got;
    expect(refs).toHaveLength(2);
    expect(sms.messageRefs).toEqual(refs);
  });

  it("send retries a one-off +CMS ERROR: 512 under the outbox's rules, printing the retry, and sends once", async () => {
    sim.fault({ kind: 'cms-error', code: 512, times: 'once' });
    const text = 'CLI retry test';
    const got = sim.inbox.next((m) => m.text === text, 20_000);
    const { stdout, stderr } = await mfabox([
      'modem',
      'send',
      '--port',
      sim.path,
      '--to',
      '+15550009999',
      text,
    ]);
    const sms = await got;
    expect(stderr).toMatch(/^retry 1 in 250 ms: SmsRetryable: .*CMS ERROR 512/m);
    expect(stdout.trim().split('\n').map(Number)).toEqual(sms.messageRefs);
    expect(sim.inbox.messages.filter((m) => m.text === text)).toHaveLength(1);
  });

  it('send does not retry a permanent refusal', async () => {
    sim.fault({ kind: 'cms-error', code: 1, times: 'once' });
    const err = (await mfabox(['modem', 'send', '--port', sim.path, '--to', '+15550009999', 'nope']).catch(
      (e: unknown) => e,
    )) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr).not.toMatch(/^retry/m);
    expect(err.stderr).toMatch(/SmsPermanent|CMS ERROR 1/);
  });

  it('a missing port fails at once with a clear message', async () => {
    const err = (await mfabox(['modem', 'probe', '--port', '/dev/mfabox-no-such-port']).catch(
      (e: unknown) => e,
    )) as {
      code: number;
      stderr: string;
    };
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/cannot open \/dev\/mfabox-no-such-port/);
  });

  it('usage errors exit 2', async () => {
    await expect(mfabox(['modem', 'send', '--port', sim.path])).rejects.toMatchObject({ code: 2 });
  });
});
