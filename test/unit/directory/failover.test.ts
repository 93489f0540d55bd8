import { describe, expect, it } from 'vitest';
import {
  ServerPool,
  ServiceRefusals,
  attemptBudget,
  srvTargetInside,
  srvToUrls,
} from '../../../firmware/src/directory/failover.ts';

describe('DC failover state', () => {
  it('tries the preferred DC first, down ones last, and stays with the one that works', () => {
    const p = new ServerPool(['ldaps://dc1', 'ldaps://dc2', 'ldaps://dc3', 'LDAPS://DC1'], 0);
    expect(p.order()).toEqual(['ldaps://dc1', 'ldaps://dc2', 'ldaps://dc3']);
    p.markDown('ldaps://dc1', 'timeout', 1);
    expect(p.order()).toEqual(['ldaps://dc2', 'ldaps://dc3', 'ldaps://dc1']);
    expect(p.current()?.url).toBe('ldaps://dc2');
    p.markUp('ldaps://dc1', 2);
    // Sticky: dc2 works, so it stays preferred even though dc1 is back.
    expect(p.order()).toEqual(['ldaps://dc2', 'ldaps://dc3', 'ldaps://dc1']);
    expect(p.down()).toEqual([]);
  });

  it('keeps known state across a new SRV list', () => {
    const p = new ServerPool(['ldaps://a'], 0);
    p.markDown('ldaps://a', 'x', 1);
    p.setUrls(['ldaps://b', 'ldaps://a'], 2);
    expect(p.list().find((s) => s.url === 'ldaps://a')?.up).toBe(false);
    expect(p.order()).toEqual(['ldaps://b', 'ldaps://a']);
  });

  it('shares the deadline among the DCs still to try', () => {
    expect(attemptBudget(2500, 2)).toBe(1250);
    expect(attemptBudget(2500, 1)).toBe(2500);
    expect(attemptBudget(600, 5)).toBe(300);
    expect(attemptBudget(200, 5)).toBe(200);
    expect(attemptBudget(0, 1)).toBe(0);
  });

  it('orders SRV answers by priority, then weight', () => {
    expect(
      srvToUrls(
        [
          { name: 'dc3.corp.', port: 389, priority: 10, weight: 100 },
          { name: 'dc1.corp', port: 389, priority: 0, weight: 50 },
          { name: 'dc2.corp', port: 389, priority: 0, weight: 100 },
        ],
        true,
      ),
    ).toEqual(['ldaps://dc2.corp:636', 'ldaps://dc1.corp:636', 'ldaps://dc3.corp:636']);
    expect(srvToUrls([{ name: 'dc1', port: 3389, priority: 0, weight: 0 }], false)).toEqual([
      'ldap://dc1:3389',
    ]);
  });
});

describe('service account refusals', () => {
  const MIN = 60_000;
  it('pauses service binds for 15 min, doubling to 60, and ends the pause when a bind is accepted', () => {
    const r = new ServiceRefusals();
    expect(r.pausedFor(0)).toBeUndefined();
    expect(r.refused(0)).toBe(15 * MIN);
    expect(r.pausedFor(15 * MIN - 1)).toBe(1);
    expect(r.pausedFor(15 * MIN)).toBeUndefined();
    expect([30, 60, 60].map(() => r.refused(0) / MIN)).toEqual([30, 60, 60]);
    r.clear();
    expect(r.pausedFor(0)).toBeUndefined();
    expect(r.refused(0)).toBe(15 * MIN);
    r.clear();
    expect(r.pausedFor(0)).toBeUndefined();
  });

  it("at most two bad binds fall in any 30-minute window (AD's default lockout observation window)", () => {
    const r = new ServiceRefusals();
    const binds: number[] = [];
    for (let t = 0; t < 6 * 60 * MIN; t += MIN)
      if (r.pausedFor(t) === undefined) {
        binds.push(t);
        r.refused(t);
      }
    for (const t of binds)
      expect(binds.filter((b) => b >= t && b < t + 30 * MIN).length).toBeLessThanOrEqual(2);
    expect(binds.length).toBeGreaterThan(3);
  });
});

describe('DNS SRV targets', () => {
  it('are taken only inside the discovery domain', () => {
    expect(srvTargetInside('dc1.corp.example.', 'corp.example')).toBe(true);
    expect(srvTargetInside('DC1.Corp.Example', 'corp.example')).toBe(true);
    expect(srvTargetInside('corp.example', 'corp.example')).toBe(true);
    expect(srvTargetInside('dc1.sub.corp.example', 'corp.example')).toBe(true);
    // A suffix that is not a label boundary, another domain, or the domain as a label elsewhere.
    expect(srvTargetInside('dc1.evilcorp.example', 'corp.example')).toBe(false);
    expect(srvTargetInside('dc1.attacker.example', 'corp.example')).toBe(false);
    expect(srvTargetInside('corp.example.attacker.net', 'corp.example')).toBe(false);
    expect(srvTargetInside('dc1.corp.example', '')).toBe(false);
  });
});
