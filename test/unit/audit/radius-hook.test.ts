import { describe, expect, it } from 'vitest';
import { createRadiusAudit, type RadiusDrop } from '../../../firmware/src/audit/radius-hook.ts';
import type { AuditInput } from '../../../firmware/src/audit/records.ts';
import type { AuthDecision } from '../../../firmware/src/auth/decision.ts';
import { ErrorCode } from '../../../firmware/src/errors.ts';
import type { AccessRequest, NasClient } from '../../../firmware/src/auth/types.ts';
import { passcodeSchema, policySchema } from '../../../firmware/src/config/schema.ts';
import { accessRequest, nasClient, openEngineRig } from '../auth/engine-rig.ts';

const client: NasClient = {
  name: 'netscaler',
  match: '10.0.0.5',
  requireMessageAuthenticator: 'yes',
  passwordCheck: 'directory',
  acceptAttributes: [],
};

function request(userName: string): AccessRequest {
  return { source: { address: '10.0.0.5', port: 40000 }, identifier: 1, userName, password: 'x' };
}

describe('createRadiusAudit', () => {
  it('pairs each decision with its own request, latency and DN, even when requests overlap', async () => {
    const out: AuditInput[] = [];
    const audit = createRadiusAudit({
      sink: (r) => out.push(r),
      lookupDn: (a) => (a === 'bob' ? 'CN=Bob Builder,OU=Staff,DC=corp,DC=example' : undefined),
    });
    const engine = async (req: AccessRequest, c: NasClient) => {
      const account = req.userName.replace(/^CORP\\/i, '').toLowerCase();
      await new Promise((r) => setTimeout(r, account === 'bob' ? 30 : 5));
      const d: AuthDecision = {
        at: 1,
        step: 'password',
        user: account,
        client: c.name,
        outcome: 'reject',
        reason: 'bad-password',
        code: ErrorCode.DirectoryBindFailed,
        callingStationId: '203.0.113.7',
        clientIp: '203.0.113.7',
      };
      audit.onDecision(d, req);
      return { code: 'Access-Reject' as const, attributes: [] };
    };
    const handler = audit.wrap(engine);
    await Promise.all([handler(request('CORP\\Bob'), client), handler(request('alice'), client)]);
    expect(out).toHaveLength(2);
    const bob = out.find((r) => r.kind === 'radius' && r.account === 'bob');
    expect(bob).toMatchObject({
      kind: 'radius',
      user: 'CORP\\Bob',
      account: 'bob',
      dn: 'CN=Bob Builder,OU=Staff,DC=corp,DC=example',
      source: '10.0.0.5',
      outcome: 'reject',
      reason: 'bad-password',
      code: 'DirectoryBindFailed',
      method: 'password',
      callingStationId: '203.0.113.7',
    });
    expect(bob?.kind === 'radius' && (bob.latencyMs ?? 0) >= 25).toBe(true);
    const alice = out.find((r) => r.kind === 'radius' && r.account === 'alice');
    expect(alice?.kind === 'radius' && alice.dn).toBe(undefined);
  });

  it('gets from the real engine which request each decision answers (overlapping logins, no AsyncLocalStorage)', async () => {
    const config = {
      passcode: passcodeSchema.parse({}),
      policy: policySchema.parse({}),
      defaultCountry: 'US',
      acceptPossibleNumbers: true,
      deviceSecret: Buffer.alloc(32, 7),
    };
    const rig = await openEngineRig({ config: () => config });
    try {
      const out: AuditInput[] = [];
      const audit = createRadiusAudit({ sink: (r) => out.push(r) });
      const handler = audit.wrap(rig.build({ onDecision: audit.onDecision }).handle);
      const nas = nasClient();
      const typed = ['CORP\\Alice', 'bob', 'ALICE', 'nobody', 'Bob'];
      await Promise.all(
        typed.map((u, i) =>
          handler(accessRequest(u, i % 2 === 0 ? 'wrong' : 'bob-pass', { identifier: i }), nas),
        ),
      );
      expect(out).toHaveLength(typed.length);
      // Each record names the User-Name its own request typed, with its own latency.
      expect(out.map((r) => (r.kind === 'radius' ? r.user : '')).sort()).toEqual([...typed].sort());
      for (const r of out) {
        if (r.kind !== 'radius') throw new Error('radius record expected');
        expect(r.latencyMs).toBeGreaterThanOrEqual(0);
        expect(r.source).toBe('192.0.2.10');
        expect(r.account === undefined || r.user.toLowerCase().endsWith(r.account)).toBe(true);
      }
    } finally {
      await rig.close();
    }
  });

  it('records one drop per packet up to the per-second cap, then one summary', () => {
    const out: AuditInput[] = [];
    let now = 1000;
    let observed = 0;
    const audit = createRadiusAudit({
      sink: (r) => out.push(r),
      dropRecordsPerSecond: 3,
      now: () => now,
      observe: { drop: () => observed++ },
    });
    const drop: RadiusDrop = {
      client: 'netscaler',
      source: { address: '10.0.0.5', port: 1 },
      reason: 'bad-message-authenticator',
      code: 'RadiusBadAuthenticator',
    };
    for (let i = 0; i < 10; i++) audit.onDrop(drop);
    audit.onDrop({ ...drop, client: undefined, reason: 'unknown-client', code: 'RadiusUnknownClient' });
    expect(observed).toBe(11);
    expect(out).toHaveLength(3);
    expect(out[0]).toMatchObject({
      outcome: 'dropped',
      reason: 'bad-message-authenticator',
      client: 'netscaler',
    });
    now += 1000;
    audit.onDrop(drop);
    expect(out).toHaveLength(5);
    expect(out[3]).toMatchObject({ reason: 'records-suppressed' });
    expect(out[3]?.kind === 'radius' && out[3].explanation).toContain(
      'netscaler|bad-message-authenticator 7, (unknown)|unknown-client 1',
    );
    expect(out[4]).toMatchObject({ reason: 'bad-message-authenticator' });
  });
});
