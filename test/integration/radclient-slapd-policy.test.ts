/**
 * The auth policy end to end: radclient → the appliance (in process) → a real OpenLDAP
 * (scripts/start-slapd.sh) for the password, the modem simulator over a pty for the SMS, and the
 * `mfabox` command as a real process for the admin's side (through the running service's local
 * API, or on the store while the service is stopped).
 *
 *   - a trusted network passes on the password alone;
 *   - a token user gets no SMS and is accepted with a TOTP computed here from the enrolled URI;
 *   - the modem pool down: the token user still gets in; a permanent SMS failure moves on to the
 *     secondary number (telephoneNumber);
 *   - a lockout survives a restart, and `mfabox user unlock` clears it;
 *   - an override code from `mfabox override issue` works once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Appliance } from '../../firmware/src/main.ts';
import {
  e2eConfig,
  nas,
  startE2eBox,
  waitFor,
  writeCliConfig,
  type HandsetSms,
  type RawConfig,
} from '../helpers/e2e-box.ts';
import { mfabox } from '../helpers/mfabox-cli.ts';
import { totp } from '../helpers/totp.ts';
import { slapdDirectory } from './ldap-fixtures.ts';
import { startPeer, type Peer } from './peers.ts';

const SECRET = 'policy-e2e-secret-123';

describe('auth policy end to end (radclient, slapd, modem simulator, mfabox)', () => {
  let peer: Peer;
  let dir: string;
  let app: Appliance | undefined;
  let configFile: string;
  let raw: RawConfig;
  const sms: HandsetSms[] = [];

  async function start(): Promise<Appliance> {
    const a = await startE2eBox(raw, { sms });
    // The command reads the config the service runs with, with the ports it got.
    await writeCliConfig(configFile, raw, a);
    return a;
  }

  beforeAll(async () => {
    peer = await startPeer('scripts/start-slapd.sh');
    dir = await mkdtemp(join(tmpdir(), 'mfabox-policy-e2e-'));
    configFile = join(dir, 'config.json');
    raw = e2eConfig(dir, SECRET, {
      defaultCountry: 'DE',
      // Every test texts alice, several times a minute: the per-user budget and the box's global
      // cap (default 60 % of one modem's 10/min) have their own tests (test/unit/auth/guard-sms).
      passcode: { maxNewPerUser: 100 },
      limits: { smsPerMinute: 100 },
      directory: { kind: 'ldap', ...slapdDirectory(peer.facts), syncIntervalMinutes: 0 },
      policy: { trustedNetworks: ['10.0.0.0/8', '2001:db8:10::/48'] },
    });
    app = await start();
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    await peer?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const { login, answer, said } = nas(() => app?.radiusPort ?? 0, SECRET);
  const pw = () => peer.facts.USER_PW;
  const smsTo = (number: string, after: number): Promise<string> =>
    waitFor(`an SMS to ${number}`, () => {
      const m = sms.slice(after).find((s) => s.to === number);
      return m ? (/(\d{6})/.exec(m.text)?.[1] ?? '') : undefined;
    });

  it('a trusted network passes on the password alone, IPv4 and IPv6; outside it, a challenge', async () => {
    const before = sms.length;
    expect((await login('alice', pw(), '10.20.30.40')).code).toBe('Access-Accept');
    expect((await login('alice', pw(), '2001:db8:10:1::5')).code).toBe('Access-Accept');
    expect(sms.length).toBe(before);
    const c = await login('alice', pw());
    expect(c.code).toBe('Access-Challenge');
    expect((await answer('alice', c, await smsTo('+4915112345678', before))).code).toBe('Access-Accept');
  }, 60_000);

  it('a token user gets no SMS and is accepted with a TOTP computed here; a replay is refused', async () => {
    const e = await mfabox(['token', 'enrol', '--config', configFile, '--user', 'bob']);
    expect(e.code, e.err + e.out).toBe(0);
    const uri = e.out.split('\n')[0] ?? '';
    expect(uri).toMatch(/^otpauth:\/\/totp\//);
    const secret = new URL(uri).searchParams.get('secret') ?? '';
    const before = sms.length;
    const c = await login('bob', pw());
    expect(c.code).toBe('Access-Challenge');
    expect(said(c)).toBe('Enter your token code');
    const code = totp(secret);
    const ok = await answer('bob', c, code);
    expect(ok.code).toBe('Access-Accept');
    const again = await answer('bob', await login('bob', pw()), code);
    expect(again.code).toBe('Access-Challenge');
    expect(said(again)).toMatch(/Wrong code/);
    await new Promise((r) => setTimeout(r, 300));
    expect(sms.length).toBe(before);
  }, 60_000);

  it('a permanent SMS failure moves on to the secondary number (telephoneNumber)', async () => {
    const before = sms.length;
    const failedBefore = app?.health().outbox?.failed ?? 0;
    app?.simulator?.fault({ kind: 'cms-error', code: 21, times: 'once' });
    const c = await login('alice', pw());
    expect(said(c)).toBe('Enter the PASSCODE sent to ******5678');
    // The network refuses it for good (CMS 21); the user waits, gets nothing, presses on.
    // Waited for, not assumed: on a loaded machine the refusal can take longer than the user.
    await waitFor(
      'the outbox to record the refused SMS',
      () => ((app?.health().outbox?.failed ?? 0) > failedBefore ? true : undefined),
      800,
    );
    const next = await answer('alice', c, '000000');
    expect(next.code, said(next)).toBe('Access-Challenge');
    expect(said(next)).toBe('The SMS could not be delivered. Enter the PASSCODE sent to ******4567');
    expect((await answer('alice', next, await smsTo('+49301234567', before))).code).toBe('Access-Accept');
  }, 60_000);

  it('the modem pool down: the token user still gets in, an SMS user is refused', async () => {
    const e = await mfabox(['token', 'enrol', '--config', configFile, '--user', 'bob']);
    const secret = new URL(e.out.split('\n')[0] ?? '').searchParams.get('secret') ?? '';
    const sim = app?.simulator;
    if (!sim) throw new Error('no simulator');
    const unplugged = sim.unplug(4000);
    for (let i = 0; i < 100 && app?.health().status !== 'down'; i++)
      await new Promise((r) => setTimeout(r, 50));
    const c = await login('bob', pw());
    expect(said(c)).toBe('Enter your token code');
    // Either of bob's two tokens works; wait for a fresh step so the earlier test's code is not reused.
    await new Promise((r) => setTimeout(r, 100));
    expect((await answer('bob', c, totp(secret))).code).toBe('Access-Accept');
    const a = await login('alice', pw());
    expect(a.code).toBe('Access-Reject');
    expect(said(a)).toBe('SMS service unavailable');
    await unplugged;
    for (let i = 0; i < 300 && app?.health().status === 'down'; i++)
      await new Promise((r) => setTimeout(r, 50));
  }, 60_000);

  it('an override code from `mfabox override issue` works once', async () => {
    const o = await mfabox(['override', 'issue', '--config', configFile, '--user', 'alice', '--ttl', '1h']);
    expect(o.code, o.err + o.out).toBe(0);
    const code = o.out.split('\n')[0] ?? '';
    expect(code).toMatch(/^\d{10}$/);
    const ok = await answer('alice', await login('alice', pw()), code);
    expect(ok.code).toBe('Access-Accept');
    const again = await answer('alice', await login('alice', pw()), code);
    expect(again.code).toBe('Access-Challenge');
    const show = await mfabox(['user', 'show', '--config', configFile, 'alice']);
    expect(show.out).toMatch(/override-issued by cli/);
    expect(show.out).not.toContain(code);
  }, 60_000);

  it('a lockout survives a restart; `mfabox user unlock` clears it', async () => {
    // 5 wrong codes: a full challenge (3) and two more.
    for (const n of [3, 2]) {
      const c = await login('gina2', 'x'); // unknown user: only to show a wrong password never locks
      expect(c.code).toBe('Access-Reject');
      const ch = await login('alice', pw());
      expect(ch.code, said(ch)).toBe('Access-Challenge');
      for (let i = 0; i < n; i++) await answer('alice', ch, '000000');
    }
    const locked = await login('alice', pw());
    expect(locked.code).toBe('Access-Reject');
    expect(said(locked)).toMatch(/^Account locked/);

    await app?.stop();
    app = undefined;
    // Stopped: the command works on the store itself.
    const shown = await mfabox(['user', 'show', '--config', configFile, 'alice']);
    expect(shown.out).toMatch(/lock:\s+LOCKED/);
    app = await start();
    expect(said(await login('alice', pw()))).toMatch(/^Account locked/);

    const un = await mfabox(['user', 'unlock', '--config', configFile, 'alice']);
    expect(un.code).toBe(0);
    expect(un.out).toMatch(/alice unlocked/);
    const after = await login('alice', pw());
    expect(after.code, said(after)).toBe('Access-Challenge');
  }, 120_000);
});
