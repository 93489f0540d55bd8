/**
 * Every RADIUS outcome and every drop reason, through the real server pipeline (`handleDatagram`)
 * and the real audit hook into an AuditLog on a store: exactly one record each, with the right
 * reason and ErrorCode name.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../../firmware/src/audit/audit-log.ts';
import { createRadiusAudit } from '../../../firmware/src/audit/radius-hook.ts';
import type { RadiusRecord } from '../../../firmware/src/audit/records.ts';
import type { AuthDecision } from '../../../firmware/src/auth/decision.ts';
import type { AccessRequest, HandlerReply, NasClient } from '../../../firmware/src/auth/types.ts';
import { systemClock } from '../../../firmware/src/clock.ts';
import { radiusClientSchema } from '../../../firmware/src/config/schema.ts';
import { ErrorCode } from '../../../firmware/src/errors.ts';
import { CODE, encodeRequest } from '../../../firmware/src/radius/codec.ts';
import { createRadiusServer } from '../../../firmware/src/radius/server.ts';
import { openStore, type Store } from '../../../firmware/src/store/store.ts';

const SECRET = Buffer.from('unit-secret-0123456789');
const STRICT = { address: '192.0.2.10', port: 5000 };
const LAX = { address: '198.51.100.10', port: 5000 };
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

function request(user: string, over: Partial<Parameters<typeof encodeRequest>[0]> = {}): Buffer {
  return encodeRequest({
    identifier: Math.floor(Math.random() * 256),
    authenticator: randomBytes(16),
    secret: SECRET,
    attributes: [
      ['User-Name', user],
      ['Calling-Station-Id', '203.0.113.5'],
    ],
    password: 'pässword',
    ...over,
  });
}

/** A User-Password that decodes (with the right secret) to bytes that are not UTF-8. */
function undecodable(authenticator: Buffer): Buffer {
  const plain = Buffer.alloc(16, 0xff);
  const pad = createHash('md5').update(SECRET).update(authenticator).digest();
  return Buffer.from(plain.map((b, i) => b ^ (pad[i] ?? 0)));
}

/** A request with Proxy-State up to 4096 octets: its reply cannot be built ('internal-error'). */
function oversized(): Buffer {
  const base = { identifier: 9, authenticator: randomBytes(16), secret: SECRET };
  const attrs: [string, string | Buffer][] = [
    ['User-Name', 'big'],
    ['CHAP-Password', Buffer.alloc(17, 2)],
  ];
  let pkt = encodeRequest({ ...base, attributes: attrs });
  for (let i = 0; ; i++) {
    try {
      pkt = encodeRequest({ ...base, attributes: [...attrs, ['Proxy-State', Buffer.alloc(253, i)]] });
    } catch {
      break;
    }
    attrs.push(['Proxy-State', Buffer.alloc(253, i)]);
  }
  const extra = Math.min(255, 4096 - pkt.length);
  pkt = Buffer.concat([pkt, Buffer.from([33, extra]), Buffer.alloc(extra - 2, 0xee)]);
  pkt.writeUInt16BE(pkt.length, 2);
  let off = 20;
  while (off < pkt.length && pkt[off] !== 80) off += pkt[off + 1] ?? 1;
  pkt.fill(0, off + 2, off + 18);
  createHmac('md5', SECRET)
    .update(pkt)
    .digest()
    .copy(pkt, off + 2);
  return pkt;
}

const DECISIONS: Record<string, Pick<AuthDecision, 'outcome' | 'reason' | 'code' | 'step'>> = {
  alice: { outcome: 'accept', reason: 'passcode-ok', step: 'passcode' },
  bob: { outcome: 'reject', reason: 'bad-password', step: 'password' },
  carol: { outcome: 'challenge', reason: 'challenge-sent', step: 'password' },
  dave: {
    outcome: 'reject',
    reason: 'no-mobile-number',
    code: ErrorCode.AuthNoMobileNumber,
    step: 'password',
  },
};
/** What the slow and held requests decide once they get there (after their drop). */
const LATE = { outcome: 'reject', reason: 'passcode-wrong', step: 'passcode' } as const;
const REPLY = { accept: 'Access-Accept', reject: 'Access-Reject', challenge: 'Access-Challenge' } as const;

describe('one audit record per RADIUS outcome and drop reason', () => {
  let dir: string;
  let store: Store;
  let log: AuditLog;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-audit-outcomes-'));
    store = await openStore(dir);
    log = new AuditLog(store, systemClock);
  });
  afterEach(async () => {
    await log.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('records each exactly once with its reason and code', async () => {
    const audit = createRadiusAudit({ sink: (r) => log.record(r) });
    const held: (() => void)[] = [];
    const engine = async (req: AccessRequest, client: NasClient): Promise<HandlerReply> => {
      if (req.userName === 'slow') await tick(600);
      if (req.userName === 'broken') throw new Error('engine bug');
      if (req.userName === 'busy') await new Promise<void>((r) => held.push(r));
      const d = DECISIONS[req.userName] ?? LATE;
      audit.onDecision({ at: Date.now(), user: req.userName, client: client.name, ...d }, req);
      return { code: REPLY[d.outcome], attributes: [] };
    };
    const server = createRadiusServer({
      clients: [
        radiusClientSchema.parse({
          name: 'strict',
          address: '192.0.2.0/24',
          secret: SECRET.toString(),
          requireMessageAuthenticator: 'yes',
        }),
        radiusClientSchema.parse({
          name: 'lax',
          address: '198.51.100.0/24',
          secret: SECRET.toString(),
          requireMessageAuthenticator: 'no',
        }),
      ],
      handler: audit.wrap(engine),
      listen: [],
      handlerTimeoutMs: 250,
      maxPending: 3,
      onDrop: (d) => audit.onDrop(d),
    });
    const send = (): void => undefined;
    const auth = (pkt: Buffer, src = STRICT): void => server.handleDatagram('auth', pkt, src, send);

    for (const u of Object.keys(DECISIONS)) {
      auth(request(u));
      await tick(5);
    }
    auth(Buffer.from([1, 2, 0, 5, 0]));
    auth(request('x', { code: CODE.AccessChallenge }));
    auth(request('x', { messageAuthenticator: false }));
    auth(request('x', { secret: Buffer.from('wrong-secret') }));
    auth(
      request('x', {
        messageAuthenticator: false,
        attributes: [
          ['User-Name', 'x'],
          ['Proxy-State', 'p'],
        ],
      }),
      LAX,
    );
    const a = randomBytes(16);
    auth(
      request('x', {
        authenticator: a,
        messageAuthenticator: false,
        password: undefined,
        attributes: [
          ['User-Name', 'x'],
          ['User-Password', undecodable(a)],
        ],
      }),
      LAX,
    );
    server.handleDatagram(
      'acct',
      encodeRequest({
        code: CODE.AccountingRequest,
        identifier: 1,
        authenticator: Buffer.alloc(16),
        secret: Buffer.from('wrong-secret'),
        attributes: [['User-Name', 'x']],
        messageAuthenticator: false,
      }),
      STRICT,
      send,
    );
    auth(request('broken'));
    auth(oversized());
    auth(request('x'), { address: '203.0.113.99', port: 1 });
    auth(request('slow'));
    await tick(350);
    for (let i = 0; i < 4; i++) auth(request('busy'));
    await tick(20);
    expect(held).toHaveLength(3);
    held.forEach((r) => r());
    await tick(700);

    const records: RadiusRecord[] = [];
    for await (const e of log.query({ kinds: ['radius'] })) records.push(e.record as RadiusRecord);
    const byReason = new Map<string, RadiusRecord[]>();
    for (const r of records)
      byReason.set(`${r.outcome}|${r.reason}`, [...(byReason.get(`${r.outcome}|${r.reason}`) ?? []), r]);
    const one = (outcome: string, reason: string): RadiusRecord => {
      const list = byReason.get(`${outcome}|${reason}`) ?? [];
      expect(list, `${outcome} ${reason}`).toHaveLength(1);
      return list[0]!;
    };
    expect(one('accept', 'passcode-ok')).toMatchObject({
      user: 'alice',
      client: 'strict',
      source: STRICT.address,
    });
    expect(one('reject', 'bad-password')).toMatchObject({ user: 'bob' });
    expect(one('challenge', 'challenge-sent')).toMatchObject({ user: 'carol' });
    expect(one('reject', 'no-mobile-number')).toMatchObject({ user: 'dave', code: 'AuthNoMobileNumber' });
    const drops: [string, string, string][] = [
      ['malformed', 'RadiusMalformed', 'strict'],
      ['unsupported-code', 'RadiusUnsupportedCode', 'strict'],
      ['missing-message-authenticator', 'RadiusMessageAuthenticatorMissing', 'strict'],
      ['bad-message-authenticator', 'RadiusBadAuthenticator', 'strict'],
      ['proxy-state-without-message-authenticator', 'RadiusProxyStateWithoutAuthenticator', 'lax'],
      ['bad-password', 'RadiusPasswordUndecodable', 'lax'],
      ['bad-accounting-authenticator', 'RadiusBadAuthenticator', 'strict'],
      ['handler-error', 'RadiusHandlerFailed', 'strict'],
      ['internal-error', 'RadiusHandlerFailed', 'strict'],
      ['unknown-client', 'RadiusUnknownClient', '(unknown)'],
      ['handler-timeout', 'RadiusHandlerFailed', 'strict'],
      ['overload', 'RadiusOverloaded', 'strict'],
    ];
    for (const [reason, code, client] of drops)
      expect(one('dropped', reason)).toMatchObject({ code, client });
    // The slow request was abandoned (its drop), and the engine's late decision is recorded too:
    // both happened. Nothing else is recorded.
    const late = byReason.get('reject|passcode-wrong') ?? [];
    expect(late).toHaveLength(4);
    expect(records).toHaveLength(Object.keys(DECISIONS).length + drops.length + late.length);
  });
});
