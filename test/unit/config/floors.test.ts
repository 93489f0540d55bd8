/**
 * Issue 9 §4 schema floors: shared secret ≥ 16 characters (or allowWeakSecret with a loud health
 * warning), passcode length 6–10 (4–5 only with allowShortPasscode), maxAttempts ≤ 5; and the
 * health warning for clients without Message-Authenticator, once per client.
 */
import { describe, expect, it } from 'vitest';
import { configSchema, passcodeSchema } from '../../../firmware/src/config/schema.ts';
import { createRadiusServer } from '../../../firmware/src/radius/server.ts';
import { takeSnapshot } from '../../../firmware/src/health/health.ts';
import { encodeRequest } from '../../../firmware/src/radius/codec.ts';

const paths = (input: unknown): string[] => {
  const r = configSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
};
const client = (over: Record<string, unknown>) => ({
  radius: { clients: [{ name: 'ns', address: '10.0.0.5', ...over }] },
});

describe('schema floors', () => {
  it('refuses a shared secret under 16 characters, naming the field and the way out', () => {
    expect(paths(client({ secret: 'x'.repeat(15) }))).toEqual(['radius.clients.0.secret']);
    const r = configSchema.safeParse(client({ secret: 'demo-secret' }));
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toMatch(/at least 16 characters.*allowWeakSecret/);
    expect(paths(client({ secret: 'x'.repeat(16) }))).toEqual([]);
    expect(paths(client({ secret: 'short', allowWeakSecret: true }))).toEqual([]);
    expect(paths(client({ secret: 'short', allowWeakSecret: false }))).toEqual(['radius.clients.0.secret']);
  });

  it('allows passcodes of 6–10 digits, 4–5 only with allowShortPasscode', () => {
    expect(passcodeSchema.parse({}).length).toBe(6);
    for (const length of [4, 5]) {
      expect(paths({ passcode: { length } })).toEqual(['passcode.length']);
      expect(paths({ passcode: { length, allowShortPasscode: true } })).toEqual([]);
    }
    for (const length of [6, 8, 10]) expect(paths({ passcode: { length } })).toEqual([]);
    expect(paths({ passcode: { length: 11, allowShortPasscode: true } })).toEqual(['passcode.length']);
    expect(paths({ passcode: { length: 3, allowShortPasscode: true } })).toEqual(['passcode.length']);
  });

  it('caps maxAttempts at 5', () => {
    expect(paths({ passcode: { maxAttempts: 5 } })).toEqual([]);
    expect(paths({ passcode: { maxAttempts: 6 } })).toEqual(['passcode.maxAttempts']);
    expect(passcodeSchema.parse({}).maxAttempts).toBe(3);
  });
});

describe('health warnings per RADIUS client', () => {
  const radius = configSchema.parse({
    radius: {
      clients: [
        {
          name: 'lab',
          address: '10.0.0.9',
          secret: 'short',
          allowWeakSecret: true,
          requireMessageAuthenticator: 'yes',
        },
        {
          name: 'old-nas',
          address: '10.0.0.5',
          secret: 'old-nas-secret-0123',
          requireMessageAuthenticator: 'auto',
        },
        {
          name: 'gw',
          address: '10.0.0.6',
          secret: 'gateway-secret-0123',
          requireMessageAuthenticator: 'yes',
        },
      ],
    },
  }).radius;
  const snapshot = (status: ReturnType<ReturnType<typeof createRadiusServer>['status']>) =>
    takeSnapshot({
      modems: () => [{ name: 'm', state: 'registered' } as never],
      directory: () => ({ state: 'up' }) as never,
      storeWritable: () => true,
      radius: () => status,
      outbox: () => undefined,
    });

  it('names a weak-secret client and a client without Message-Authenticator, once each however many requests', async () => {
    const server = createRadiusServer({
      clients: radius.clients,
      listen: [],
      handler: () => Promise.resolve({ code: 'Access-Reject', attributes: [] }),
    });
    // Ten requests from the client that sends no Message-Authenticator.
    for (let i = 0; i < 10; i++)
      server.handleDatagram(
        'auth',
        encodeRequest({
          identifier: i,
          authenticator: Buffer.alloc(16, i),
          secret: Buffer.from('old-nas-secret-0123'),
          attributes: [['User-Name', 'alice']],
          password: 'pw',
          messageAuthenticator: false,
        }),
        { address: '10.0.0.5', port: 4000 + i },
        () => undefined,
      );
    await new Promise((r) => setTimeout(r, 20));
    expect(server.counters().clients['old-nas']?.requests).toBe(10);
    const status = server.status();
    expect(status.clientsWithWeakSecret).toEqual(['lab']);
    expect(status.clientsWithoutMessageAuthenticator).toEqual(['old-nas']);
    const problems = snapshot(status).problems;
    expect(problems.filter((p) => p.includes('old-nas'))).toEqual([
      'RADIUS client old-nas does not send Message-Authenticator (BlastRADIUS)',
    ]);
    expect(problems.filter((p) => p.includes('lab'))).toHaveLength(1);
    expect(problems.find((p) => p.includes('lab'))).toMatch(/shared secret under 16 characters/);
    expect(problems.some((p) => p.includes('gw'))).toBe(false);
  });
});
