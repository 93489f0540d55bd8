import { describe, expect, it } from 'vitest';
import { RateLimitedLog } from '../../../firmware/src/radius/ratelog.ts';
import type { Logger } from '../../../firmware/src/log.ts';

function fakeLog() {
  const lines: { fields: Record<string, unknown>; msg: string }[] = [];
  const log = {
    warn: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }),
    info: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }),
  } as unknown as Logger;
  return { lines, log };
}

describe('RateLimitedLog', () => {
  it('logs a key once per interval and reports what it held back', () => {
    let t = 0;
    const { lines, log } = fakeLog();
    const r = new RateLimitedLog(log, { now: () => t, monotonic: () => t }, { intervalMs: 1000 });
    for (let i = 0; i < 50; i++) r.warn('k', { n: i }, 'dropped');
    expect(lines).toHaveLength(1);
    t = 1000;
    r.warn('k', {}, 'dropped');
    expect(lines).toHaveLength(2);
    expect(lines[1]!.fields.suppressed).toBe(49);
  });

  it('caps lines per interval across keys and the number of keys remembered', () => {
    let t = 0;
    const { lines, log } = fakeLog();
    const r = new RateLimitedLog(
      log,
      { now: () => t, monotonic: () => t },
      { intervalMs: 1000, burst: 5, maxKeys: 100 },
    );
    for (let i = 0; i < 10_000; i++) r.warn(`src-${i}`, {}, 'unknown client');
    expect(lines).toHaveLength(5);
    expect(r.size).toBeLessThanOrEqual(100);
    t = 1000;
    r.warn('another', {}, 'x');
    expect(lines[5]!.fields.suppressedOtherKinds).toBe(9995);
  });
});
