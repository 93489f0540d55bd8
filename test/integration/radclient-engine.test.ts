/**
 * The RADIUS server with the real auth engine behind it, against radclient: the whole two-step
 * login, and the promises that matter to users: a retransmit never causes a second bind or a
 * second SMS, a wrong shared secret never reaches the directory, the monitor user neither.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRadiusServer } from '../../firmware/src/radius/server.ts';
import type { RadiusServer } from '../../firmware/src/radius/server.ts';
import { encodeRequest } from '../../firmware/src/radius/codec.ts';
import { passcodeSchema, policySchema, radiusClientSchema } from '../../firmware/src/config/schema.ts';
import { openStore } from '../../firmware/src/store/store.ts';
import type { Store } from '../../firmware/src/store/store.ts';
import { cryptoRandom, systemClock } from '../../firmware/src/clock.ts';
import { DemoDirectory } from '../../firmware/src/directory/demo.ts';
import type { Outbox, OutboxEntryInput } from '../../firmware/src/dispatch/types.ts';
import { createAuthEngine } from '../../firmware/src/auth/engine.ts';
import { radclient } from './helpers/radclient.ts';
import { preparedWith, quietOutboxParts } from '../helpers/outbox.ts';

const SECRET = 'engine-secret-123';

describe('RADIUS server + real auth engine against radclient', () => {
  let dir: string;
  let store: Store;
  let server: RadiusServer;
  let port = 0;
  let modemReady = true;
  const directory = new DemoDirectory();
  const sms: OutboxEntryInput[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mfabox-radius-engine-'));
    store = await openStore(dir);
    const outbox: Outbox = {
      prepare(entry) {
        sms.push(entry);
        return preparedWith([]);
      },
      ...quietOutboxParts,
      enqueue: (e) => {
        sms.push(e);
        return Promise.resolve();
      },
      ready: () => modemReady,
    };
    const engine = createAuthEngine({
      directory,
      outbox,
      store,
      clock: systemClock,
      random: cryptoRandom,
      config: {
        passcode: passcodeSchema.parse({}),
        policy: policySchema.parse({}),
        defaultCountry: 'US',
        // The demo users' 555 numbers are fictional, as in `npm run demo`.
        acceptPossibleNumbers: true,
        deviceSecret: randomBytes(32),
      },
    });
    server = createRadiusServer({
      clients: [
        radiusClientSchema.parse({
          name: 'netscaler',
          address: '127.0.0.1',
          secret: SECRET,
          requireMessageAuthenticator: 'auto',
          monitorUser: 'nsmonitor',
          monitorPassword: 'monitor-pw-16-chars',
        }),
      ],
      handler: engine.handle,
      store,
      health: () =>
        modemReady ? { healthy: true, reasons: [] } : { healthy: false, reasons: ['no modem ready'] },
      listen: [{ address: '127.0.0.1', port: 0 }],
    });
    port = (await server.start()).auth[0]!.port;
  });

  afterAll(async () => {
    await server.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const codeOf = (e: OutboxEntryInput): string => /\b(\d{6})\b/.exec(e.text)![1]!;

  it('drops a password hidden with the wrong secret before any bind', async () => {
    const binds = directory.binds;
    const r = await radclient({
      server: `127.0.0.1:${port}`,
      command: 'auth',
      secret: 'someone-elses-secret',
      lines: ['User-Name = "carol"', 'User-Password = "carol-pass"'],
      timeout: 0.3,
    });
    expect(r.replies).toEqual([]);
    expect(directory.binds).toBe(binds);
    // Checked first, while the auto client has not yet sent Message-Authenticator: the password check drops it.
    expect(server.counters().clients.netscaler!.drops['bad-password']).toBe(1);
  });

  it('logs alice in: password → Access-Challenge with the SMS sent, passcode → Access-Accept', async () => {
    const binds = directory.binds;
    const sent = sms.length;
    const step1 = await radclient({
      server: `127.0.0.1:${port}`,
      command: 'auth',
      secret: SECRET,
      lines: [
        'User-Name = "MFA\\\\alice"',
        'User-Password = "alice-pass"',
        'Calling-Station-Id = "203.0.113.9"',
        'Message-Authenticator = 0x00',
      ],
    });
    const ch = step1.replies[0]!;
    expect(ch.code, step1.stdout).toBe('Access-Challenge');
    expect(ch.attributes[0]![0]).toBe('Message-Authenticator');
    expect(ch.attributes).toContainEqual(['Reply-Message', 'Enter the PASSCODE sent to ******0001']);
    expect(directory.binds - binds).toBe(1);
    expect(sms.length - sent).toBe(1);
    const state = ch.attributes.find(([k]) => k === 'State')![1];
    const step2 = await radclient({
      server: `127.0.0.1:${port}`,
      command: 'auth',
      secret: SECRET,
      lines: [
        'User-Name = "alice"',
        `User-Password = "${codeOf(sms.at(-1)!)}"`,
        `State = ${state}`,
        'Message-Authenticator = 0x00',
      ],
    });
    expect(step2.exitCode, step2.stdout).toBe(0);
    expect(step2.replies[0]!.code).toBe('Access-Accept');
    expect(step2.replies[0]!.attributes[0]![0]).toBe('Message-Authenticator');
  });

  it('answers a retransmitted step 1 from the cache: one bind, one SMS, identical bytes', async () => {
    const binds = directory.binds;
    const sent = sms.length;
    const pkt = encodeRequest({
      identifier: 77,
      authenticator: randomBytes(16),
      secret: Buffer.from(SECRET),
      attributes: [['User-Name', 'bob']],
      password: 'bob-pass',
    });
    const sock = dgram.createSocket('udp4');
    const replies: Buffer[] = [];
    sock.on('message', (m) => replies.push(m));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const send = () => new Promise<void>((r) => sock.send(pkt, port, '127.0.0.1', () => r()));
    await Promise.all([send(), send(), send()]); // in flight
    await new Promise((r) => setTimeout(r, 300));
    await send(); // completed
    await new Promise((r) => setTimeout(r, 200));
    sock.close();
    expect(directory.binds - binds).toBe(1);
    expect(sms.length - sent).toBe(1);
    expect(replies.length).toBeGreaterThanOrEqual(2);
    for (const r of replies) expect(r).toEqual(replies[0]);
  });

  it('answers the monitor user without a bind or an SMS: Reject "healthy" while healthy, silence with no modem', async () => {
    const binds = directory.binds;
    const sent = sms.length;
    const ask = () =>
      radclient({
        server: `127.0.0.1:${port}`,
        command: 'auth',
        secret: SECRET,
        lines: [
          'User-Name = "nsmonitor"',
          'User-Password = "monitor-pw-16-chars"',
          'Message-Authenticator = 0x00',
        ],
      });
    modemReady = true;
    const up = (await ask()).replies[0];
    expect(up?.code).toBe('Access-Reject');
    expect(up?.attributes).toContainEqual(['Reply-Message', 'healthy']);
    modemReady = false;
    expect((await ask()).replies).toEqual([]);
    modemReady = true;
    expect(directory.binds).toBe(binds);
    expect(sms.length).toBe(sent);
  });
});
