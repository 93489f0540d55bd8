/**
 * The email method end to end: radclient → the appliance (in process) → a real OpenLDAP
 * (scripts/start-slapd.sh) for the password and the `mail` attribute → a real SMTP relay
 * (npm smtp-server) on loopback with STARTTLS, its CA pinned and SMTP AUTH required, which receives
 * the passcode. The modem simulator is there for the fallback to SMS.
 *
 *   - the Access-Challenge leaves while the relay still holds the message (background send);
 *   - the emailed passcode is accepted once;
 *   - a relay that refuses the recipient moves the login on to the SMS.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Appliance } from '../../firmware/src/main.ts';
import { e2eConfig, nas, startE2eBox, waitFor, type HandsetSms } from '../helpers/e2e-box.ts';
import { makeTlsFiles } from '../helpers/tls-files.ts';
import { slapdDirectory } from './ldap-fixtures.ts';
import { startPeer, type Peer } from './peers.ts';

const SECRET = 'email-e2e-secret-1234';
const SMTP_USER = 'mfabox-relay';
const SMTP_PASSWORD = 'relay-pw-9f3k2';

interface Received {
  to: string[];
  body: string;
  secure: boolean;
  user: string | undefined;
}

describe('email passcodes end to end (radclient, slapd, smtp-server with STARTTLS)', () => {
  let peer: Peer;
  let dir: string;
  let app: Appliance | undefined;
  let relay: SMTPServer;
  const mail: Received[] = [];
  const sms: HandsetSms[] = [];
  /** While set, the relay holds each message at MAIL FROM until it resolves. */
  let gate: Promise<void> | undefined;
  /** Recipients the relay refuses (550), and how many times it did. */
  const refuse = new Set<string>();
  let refusals = 0;

  beforeAll(async () => {
    peer = await startPeer('scripts/start-slapd.sh');
    dir = await mkdtemp(join(tmpdir(), 'mfabox-email-e2e-'));
    const tls = makeTlsFiles(dir);
    relay = new SMTPServer({
      key: await readFile(tls.keyFile),
      cert: await readFile(tls.certFile),
      logger: false,
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth(auth, _session, cb) {
        if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) cb(null, { user: auth.username });
        else cb(new Error('bad credentials'));
      },
      onMailFrom(_address, _session, cb) {
        void (gate ?? Promise.resolve()).then(() => cb());
      },
      onRcptTo(address, _session, cb) {
        if (refuse.has(address.address)) {
          refusals++;
          const e = Object.assign(new Error('no such mailbox'), { responseCode: 550 });
          cb(e);
        } else cb();
      },
      onData(stream, session, cb) {
        let body = '';
        stream.on('data', (c: Buffer) => (body += c.toString('utf8')));
        stream.on('end', () => {
          mail.push({
            to: session.envelope.rcptTo.map((r) => r.address),
            body,
            secure: session.secure,
            user: typeof session.user === 'string' ? session.user : undefined,
          });
          cb();
        });
      },
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const port = (relay.server.address() as AddressInfo).port;
    const raw = e2eConfig(dir, SECRET, {
      defaultCountry: 'DE',
      passcode: { maxNewPerUser: 100 },
      limits: { smsPerMinute: 100 },
      directory: { kind: 'ldap', ...slapdDirectory(peer.facts), syncIntervalMinutes: 0 },
      methods: {
        chains: { default: ['email', 'sms'] },
        email: {
          enabled: true,
          host: '127.0.0.1',
          port,
          from: 'mfabox@example.com',
          caFile: tls.caFile,
          user: SMTP_USER,
          password: SMTP_PASSWORD,
        },
      },
    });
    await writeFile(join(dir, 'config.json'), JSON.stringify(raw));
    app = await startE2eBox(raw, { sms });
  }, 120_000);

  afterAll(async () => {
    await app?.stop();
    await new Promise<void>((resolve) => relay.close(() => resolve()));
    await peer?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const { answer, said, login: login1 } = nas(() => app?.radiusPort ?? 0, SECRET);
  const login = (user: string) => login1(user, peer.facts.USER_PW);

  it('challenges at once while the relay holds the mail; the emailed code is accepted once', async () => {
    let release: () => void = () => undefined;
    gate = new Promise((r) => (release = r));
    const before = mail.length;
    const c = await login('alice');
    // The reply is here and the relay has not taken the message yet.
    expect(c.code, said(c)).toBe('Access-Challenge');
    expect(said(c)).toBe('Enter the PASSCODE sent to a******@example.com');
    expect(mail.length).toBe(before);
    release();
    gate = undefined;
    const m = await waitFor('the passcode email', () => mail[before]);
    expect(m.to).toEqual(['alice@example.com']);
    expect(m.secure).toBe(true);
    expect(m.user).toBe(SMTP_USER);
    expect(m.body).toMatch(/Subject: Your sign-in passcode/);
    const code = /(\d{6})/.exec(m.body.split('\r\n\r\n').slice(1).join('\n'))?.[1] ?? '';
    expect(code).toMatch(/^\d{6}$/);
    expect((await answer('alice', c, code)).code).toBe('Access-Accept');
    const again = await answer('alice', c, code);
    expect(again.code).toBe('Access-Reject');
    expect(sms).toHaveLength(0);
  }, 60_000);

  it('a relay that refuses the recipient: the next answer moves the login on to the SMS', async () => {
    refuse.add('alice@example.com');
    try {
      const c = await login('alice');
      expect(said(c)).toBe('Enter the PASSCODE sent to a******@example.com');
      // The user waits for a mail that never comes, then types anything.
      await waitFor('the refusal', () => (refusals > 0 ? true : undefined));
      await new Promise((r) => setTimeout(r, 1000));
      const next = await answer('alice', c, '000000');
      expect(next.code, said(next)).toBe('Access-Challenge');
      expect(said(next)).toBe('The email could not be delivered. Enter the PASSCODE sent to ******5678');
      const text = await waitFor('the SMS', () => sms.find((s) => s.to === '+4915112345678')?.text);
      const code = /(\d{6})/.exec(text)?.[1] ?? '';
      expect((await answer('alice', next, code)).code).toBe('Access-Accept');
    } finally {
      refuse.clear();
    }
  }, 60_000);
});
