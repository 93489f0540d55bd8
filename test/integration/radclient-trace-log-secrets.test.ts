/**
 * Issue 9 §3 redaction: the whole log of a full login at trace level holds no secret. radclient
 * logs in (password, SMS passcode, State), probes the monitor user, a token is enrolled through the
 * `mfabox` command (its seed crosses the local API) and used; the simulated SIM asks for its PIN.
 * Everything the box and the command wrote is then searched for each secret, in the forms a log
 * could carry it (text, hex, base64).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureLogging } from '../../firmware/src/log.ts';
import type { Appliance } from '../../firmware/src/main.ts';
import { e2eConfig, nas, startE2eBox, writeCliConfig, type HandsetSms } from '../helpers/e2e-box.ts';
import { mfabox } from '../helpers/mfabox-cli.ts';
import { q } from '../helpers/radclient.ts';
import { base32Bytes, totp } from '../helpers/totp.ts';

const SECRET = 'trace-nas-secret-7f3a9c';
const MONITOR_PASSWORD = 'trace-monitor-pw-5e1d0b';
const SIM_PIN = '4821';

/** The forms a secret could take in a JSON log line. */
function forms(secret: string | Buffer): string[] {
  const b = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  const out = [b.toString('hex'), b.toString('hex').toUpperCase(), b.toString('base64').replace(/=+$/, '')];
  if (typeof secret === 'string') out.push(secret);
  return out;
}

describe('trace-level log of a full login holds no secret (radclient, simulator, mfabox)', () => {
  let app: Appliance | undefined;
  let dir: string;
  let configFile: string;
  let log = '';
  const sms: HandsetSms[] = [];
  const realWrite = process.stderr.write.bind(process.stderr);

  beforeAll(async () => {
    // pino writes to process.stderr: keep every line this process logs.
    process.stderr.write = (chunk: string | Uint8Array, ...rest: never[]) => {
      log += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return realWrite(chunk, ...rest);
    };
    configureLogging({ level: 'trace' });
    dir = await mkdtemp(join(tmpdir(), 'mfabox-trace-'));
    const raw = e2eConfig(
      dir,
      SECRET,
      { directory: { kind: 'demo', syncIntervalMinutes: 0 }, log: { level: 'trace' } },
      { monitorUser: 'mfabox-monitor', monitorPassword: MONITOR_PASSWORD },
    );
    app = await startE2eBox(raw, { sms, demo: true, pin: SIM_PIN, waitForModemMs: 30_000, noLeds: true });
    configFile = join(dir, 'config.json');
    await writeCliConfig(configFile, raw, app);
  }, 60_000);

  afterAll(async () => {
    process.stderr.write = realWrite;
    configureLogging({ level: 'silent' });
    await app?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const { send, login, answer } = nas(() => app?.radiusPort ?? 0, SECRET);

  it('logs the login, the monitor probe and the token enrolment without any secret in them', async () => {
    expect(app?.health().modems[0]?.state).toMatch(/registered|sending/);
    // SMS passcode login: one wrong code, then the right one.
    const c = await login('alice', 'alice-pass');
    expect(c.code, c.output).toBe('Access-Challenge');
    const stateHex = (c.attributes.get('State')?.[0] ?? '').replace(/^0x/, '');
    expect(stateHex.length).toBeGreaterThan(8);
    for (let i = 0; i < 200 && sms.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const passcode = /(\d{6,})/.exec(sms[0]?.text ?? '')?.[1] ?? '';
    expect(passcode).toMatch(/^\d{6}$/);
    const wrong = passcode === '000000' ? '111111' : '000000';
    expect((await answer('alice', c, wrong)).code).toBe('Access-Challenge');
    expect((await answer('alice', c, passcode)).code).toBe('Access-Accept');
    // A wrong password and a wrong shared secret (dropped).
    expect((await login('bob', 'not-bobs-password')).code).toBe('Access-Reject');
    // The monitor probe.
    const probe = await send([
      ['User-Name', q('mfabox-monitor')],
      ['User-Password', q(MONITOR_PASSWORD)],
    ]);
    expect(probe.code).toBe('Access-Reject');
    // A token enrolled through the command and used.
    const e = await mfabox(['token', 'enrol', '--config', configFile, '--user', 'bob'], 'trace');
    expect(e.code, e.err + e.out).toBe(0);
    const seed = new URL(e.out.split('\n')[0] ?? '').searchParams.get('secret') ?? '';
    expect(seed.length).toBeGreaterThan(16);
    const t = await login('bob', 'bob-pass');
    expect(t.code, t.output).toBe('Access-Challenge');
    expect((await answer('bob', t, totp(seed))).code).toBe('Access-Accept');
    await new Promise((r) => setTimeout(r, 200));

    const whole = `${log}\n${e.err}`;
    // The log really is at trace level and covers the path (else the search below proves nothing).
    expect(whole).toContain('"level":10');
    expect(whole).toContain('mfabox:radius');
    expect(whole.split('\n').length).toBeGreaterThan(50);
    const secrets: [string, string[]][] = [
      ['alice password', ['alice-pass']],
      ['bob password', ['bob-pass', 'not-bobs-password']],
      ['passcode', [passcode]],
      ['shared secret', forms(SECRET)],
      ['monitor password', forms(MONITOR_PASSWORD)],
      ['SIM PIN', [`CPIN="${SIM_PIN}"`, `CPIN=${SIM_PIN}`, `"pin":"${SIM_PIN}"`]],
      ['token seed', [seed, ...forms(base32Bytes(seed))]],
      ['State', [stateHex, stateHex.toUpperCase(), Buffer.from(stateHex, 'hex').toString('base64')]],
    ];
    for (const [what, variants] of secrets)
      for (const v of variants) expect(whole.includes(v), `${what} (${v}) appears in the log`).toBe(false);
  }, 120_000);
});
