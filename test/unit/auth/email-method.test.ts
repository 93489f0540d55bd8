/**
 * The email method in the engine (a real store, a fake clock, an email channel over a scripted
 * sender): the Access-Challenge leaves before the relay answers, the code is checked like the SMS
 * one, a failed email moves the login on, and the channel follows the config.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SmtpEmailChannel, type EmailConfig } from '../../../firmware/src/auth/email-channel.ts';
import type { EmailMessage, EmailSender, SendResult } from '../../../firmware/src/auth/email-sender.ts';
import { usableEmail } from '../../../firmware/src/auth/email-sender.ts';
import {
  createAuthEngine,
  type AuthDecision,
  type AuthEngine,
  type AuthEngineConfig,
} from '../../../firmware/src/auth/engine.ts';
import type { AccessRequest, HandlerReply, NasClient } from '../../../firmware/src/auth/types.ts';
import { configSchema, passcodeSchema } from '../../../firmware/src/config/schema.ts';
import { maskSecrets } from '../../../firmware/src/config/secrets.ts';
import { DEMO_USERS, DemoDirectory } from '../../../firmware/src/directory/demo.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';
import { FakeClock, FakeOutbox, SeededRandom } from './doubles.ts';

const client: NasClient = {
  name: 'netscaler',
  match: '192.0.2.10',
  requireMessageAuthenticator: 'yes',
  passwordCheck: 'directory',
  acceptAttributes: [],
};
const message = (r: HandlerReply) =>
  r.attributes.find(([n]) => n === 'Reply-Message')?.[1] as string | undefined;
function stateOf(r: HandlerReply): Buffer {
  const s = r.attributes.find(([n]) => n === 'State')?.[1];
  if (!Buffer.isBuffer(s)) throw new Error(`no State in ${r.code} "${message(r)}"`);
  return s;
}

/** A sender whose sends resolve when the test says so. */
class ScriptedSender implements EmailSender {
  sent: EmailMessage[] = [];
  private pending: ((r: SendResult) => void)[] = [];
  closed = 0;
  send(m: EmailMessage): Promise<SendResult> {
    this.sent.push(m);
    return new Promise((resolve) => this.pending.push(resolve));
  }
  finish(r: SendResult = { ok: true, messageId: 'm' }): void {
    for (const p of this.pending.splice(0)) p(r);
  }
  close(): void {
    this.closed++;
  }
}

describe('the email method', () => {
  let dir: string;
  let store: Store;
  let clock: FakeClock;
  let outbox: FakeOutbox;
  let sender: ScriptedSender;
  let builds: number;
  let emailCfg: EmailConfig;
  let channel: SmtpEmailChannel;
  let cfg: AuthEngineConfig;
  let engine: AuthEngine;
  let decisions: AuthDecision[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-email-method-'));
    store = await openStore(dir);
    clock = new FakeClock(Date.UTC(2026, 2, 4, 10, 0));
    outbox = new FakeOutbox(store);
    sender = new ScriptedSender();
    builds = 0;
    const c = configSchema.parse({
      methods: {
        chains: { default: ['email', 'sms'], smsfirst: ['sms', 'email'] },
        email: { enabled: true, host: 'relay.corp.example', from: 'mfabox@corp.example' },
      },
    });
    emailCfg = c.methods.email;
    channel = new SmtpEmailChannel(() => emailCfg, {
      createSender: () => {
        builds++;
        return sender;
      },
    });
    decisions = [];
    cfg = {
      passcode: passcodeSchema.parse({}),
      policy: c.policy,
      lockout: c.lockout,
      limits: c.limits,
      methods: c.methods,
      defaultCountry: 'US',
      acceptPossibleNumbers: true,
      deviceSecret: Buffer.alloc(32, 9),
    };
    const users = DEMO_USERS.map((u) =>
      u.username === 'alice' ? { ...u, email: 'alice.example@corp.example' } : u,
    );
    engine = createAuthEngine({
      directory: new DemoDirectory(users),
      outbox,
      store,
      clock,
      random: new SeededRandom(),
      config: () => cfg,
      email: channel,
      onDecision: (d) => decisions.push(d),
    });
  });
  afterEach(async () => {
    await engine.stop();
    await channel.close(0);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const req = (user: string, password: string, extra: Partial<AccessRequest> = {}): AccessRequest => ({
    source: { address: '192.0.2.10', port: 40000 },
    identifier: 1,
    userName: user,
    password,
    callingStationId: '198.51.100.7',
    ...extra,
  });
  const login = (user: string) => engine.handle(req(user, `${user}-pass`), client);
  const answer = (user: string, state: Buffer, text: string) =>
    engine.handle(req(user, text, { state }), client);
  const codeIn = (m: EmailMessage | undefined) => /(\d{6})/.exec(m?.text ?? '')?.[1] ?? '';

  it('answers with the challenge while the relay has not answered; the emailed code is accepted once', async () => {
    const c = await login('alice');
    expect(c.code).toBe('Access-Challenge');
    expect(message(c)).toBe('Enter the PASSCODE sent to a******@corp.example');
    // The send is still pending: the reply did not wait for it.
    expect(sender.sent).toHaveLength(1);
    expect(channel.status(decisions.at(-1)?.challengeId ?? '')).toBe('sending');
    expect(sender.sent[0]).toMatchObject({
      to: 'alice.example@corp.example',
      subject: 'Your sign-in passcode',
    });
    expect(outbox.commits).toBe(0);
    sender.finish();
    const code = codeIn(sender.sent[0]);
    expect(code).toMatch(/^\d{6}$/);
    // Stored hashed: the code is nowhere in the challenges table.
    for await (const [, v] of store.table('challenges').entries())
      expect(JSON.stringify(v)).not.toContain(code);
    const wrong = await answer('alice', stateOf(c), code === '000000' ? '111111' : '000000');
    expect(wrong.code).toBe('Access-Challenge');
    expect(message(wrong)).toMatch(/Wrong code/);
    expect((await answer('alice', stateOf(c), code)).code).toBe('Access-Accept');
    expect(decisions.at(-1)).toMatchObject({
      outcome: 'accept',
      method: 'email',
      to: 'a******@corp.example',
    });
    expect((await answer('alice', stateOf(c), code)).code).toBe('Access-Reject');
  });

  it('a failed email moves the login on to the next method without counting the answer', async () => {
    const c = await login('alice');
    sender.finish({ ok: false, permanent: true, reason: 'EENVELOPE 550' });
    await new Promise((r) => setImmediate(r));
    const next = await answer('alice', stateOf(c), '123456');
    expect(next.code).toBe('Access-Challenge');
    expect(message(next)).toBe('The email could not be delivered. Enter the PASSCODE sent to ******0001');
    expect(outbox.commits).toBe(1);
    expect(decisions.at(-1)).toMatchObject({ outcome: 'challenge', method: 'sms', to: '******0001' });
    expect(decisions.some((d) => d.reason === 'passcode-wrong')).toBe(false);
  });

  it('an email still unsent after smsUnsentSeconds counts as undelivered', async () => {
    const c = await login('alice');
    clock.advance(46_000);
    const next = await answer('alice', stateOf(c), '123456');
    expect(message(next)).toMatch(/^The email could not be delivered\./);
  });

  it('from SMS to email: the next word moves on and the address comes from step 1', async () => {
    cfg = {
      ...cfg,
      policy: {
        ...cfg.policy,
        rules: [{ name: 's', if: {}, then: { challenge: 'smsfirst' }, onUnknown: 'no-match' }],
      },
    };
    const c = await login('alice');
    expect(message(c)).toBe('Enter the PASSCODE sent to ******0001');
    const e = await answer('alice', stateOf(c), 'sms2');
    expect(message(e)).toBe('Enter the PASSCODE sent to a******@corp.example');
    sender.finish();
    expect((await answer('alice', stateOf(e), codeIn(sender.sent[0]))).code).toBe('Access-Accept');
  });

  it('skipped with its reason when off, or for a user without an address; SMS is used instead', async () => {
    const c = await login('bob');
    expect(message(c)).toBe('Enter the PASSCODE sent to ******0002');
    expect(decisions.at(-1)?.detail).toContain('email: email off or no address');
    expect(channel.ready()).toBe(true);
    emailCfg = { ...emailCfg, enabled: false };
    cfg = { ...cfg, methods: { ...cfg.methods!, email: emailCfg } };
    expect(channel.ready()).toBe(false);
    expect(sender.closed).toBe(1);
    const a = await login('alice');
    expect(message(a)).toBe('Enter the PASSCODE sent to ******0001');
    expect(sender.sent).toHaveLength(0);
  });

  it('counts against the user’s passcode budget, not the modems’ global cap', async () => {
    cfg = {
      ...cfg,
      passcode: { ...cfg.passcode, maxNewPerUser: 2 },
      limits: { ...cfg.limits!, smsPerMinute: 1 },
    };
    expect((await login('alice')).code).toBe('Access-Challenge');
    expect((await login('alice')).code).toBe('Access-Challenge');
    const third = await login('alice');
    expect(third.code).toBe('Access-Reject');
    expect(decisions.at(-1)).toMatchObject({ reason: 'sms-rate-limited' });
    expect(sender.sent).toHaveLength(2);
  });

  it('follows the config: a changed relay builds a new sender, the same config reuses it', () => {
    expect(channel.ready()).toBe(true);
    expect(channel.ready()).toBe(true);
    expect(builds).toBe(1);
    emailCfg = { ...emailCfg, port: 2525 };
    expect(channel.ready()).toBe(true);
    expect(builds).toBe(2);
    emailCfg = { ...emailCfg, caFile: join(dir, 'missing-ca.pem') };
    expect(channel.ready()).toBe(false);
  });
});

describe('email addresses and the SMTP password', () => {
  it('takes one plain mailbox from the directory, nothing that could add recipients or headers', () => {
    expect(usableEmail(' j.smith@corp.example ')).toBe('j.smith@corp.example');
    for (const bad of [
      'j.smith',
      'a@b',
      'a@b.c\r\nBcc: x@y.z',
      'a@b.c, x@y.z',
      '<a@b.c>',
      'a b@c.d',
      undefined,
    ])
      expect(usableEmail(bad)).toBeUndefined();
  });

  it('the SMTP password is write-only in the API view of the config', () => {
    const masked = maskSecrets({
      methods: { email: { enabled: true, user: 'mfabox', password: 'smtp-pw-123' } },
    });
    expect(masked).toEqual({
      methods: { email: { enabled: true, user: 'mfabox', password: { set: true } } },
    });
  });

  it('a user without a password (or the reverse) is refused by the schema', () => {
    const r = configSchema.safeParse({ methods: { email: { user: 'mfabox' } } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('SMTP AUTH needs both user and password');
  });
});
