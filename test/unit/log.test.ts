/**
 * log.ts redacts secrets by field name at any depth (issue 9 §3), bounded against cycles and huge objects: every name on
 * the list, including the monitor password, the PIN key and a challenge's State.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  REDACT_MAX_DEPTH,
  REDACT_MAX_NODES,
  SECRET_FIELDS,
  configureLogging,
  logger,
  redactDeep,
} from '../../firmware/src/log.ts';

/** The root logger's destination is fixed by the first configureLogging call, so the file shares one. */
const out = new PassThrough();
let written = '';
out.on('data', (d: Buffer) => (written += d.toString()));

/** Log lines written while `fn` runs, at trace level. */
async function captured(fn: (log: ReturnType<typeof logger>) => void): Promise<string> {
  const start = written.length;
  configureLogging({ level: 'trace', destination: out });
  try {
    fn(logger('test:redaction'));
    await new Promise((r) => setImmediate(r));
    return written.slice(start);
  } finally {
    configureLogging({ level: 'silent' });
  }
}

describe('log redaction', () => {
  it('censors every secret field at the top level and two levels down, at trace level', async () => {
    for (const f of ['monitorPassword', 'pinKey', 'state', 'State', 'seed', 'monitorToken'])
      expect(SECRET_FIELDS).toContain(f);
    const text = await captured((log) => {
      SECRET_FIELDS.forEach((f, i) => {
        const v = `s3cret-value-${i}-xyz`;
        log.trace({ [f]: v }, 'top');
        log.trace({ client: { [f]: `${v}-a` } }, 'nested');
        log.trace({ req: { client: { [f]: `${v}-b` } } }, 'deeper');
      });
      log.trace({ modemState: 'registered', user: 'alice' }, 'not secret');
    });
    expect(text).not.toMatch(/s3cret-value/);
    expect(text.match(/\[redacted\]/g)?.length).toBe(SECRET_FIELDS.length * 3);
    expect(text).toContain('"modemState":"registered"');
  });

  it('censors a secret five levels deep, inside arrays, in an Error and in child bindings', async () => {
    const err = Object.assign(new Error('bind failed'), {
      request: { dn: 'cn=svc', bindPassword: 's3cret-err' },
    });
    const text = await captured((log) => {
      log.info({ a: { b: { c: { d: { password: 's3cret-five' } } } } }, 'five deep');
      log.info({ list: [{ x: [{ pin: 's3cret-array' }] }] }, 'arrays');
      log.error({ err }, 'error');
      log.child({ ctx: { deeper: { secret: 's3cret-binding' } } }).info('bound');
    });
    expect(text).not.toMatch(/s3cret-/);
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ a: { b: { c: { d: { password: '[redacted]' } } } } });
    expect(lines[1]).toMatchObject({ list: [{ x: [{ pin: '[redacted]' }] }] });
    // The Error still prints as one (type, message, stack) with its own fields walked.
    expect(lines[2]).toMatchObject({
      err: { type: 'Error', message: 'bind failed', request: { dn: 'cn=svc', bindPassword: '[redacted]' } },
    });
    expect(lines[2]?.err).toHaveProperty('stack');
    expect(lines[3]).toMatchObject({ ctx: { deeper: { secret: '[redacted]' } } });
  });

  it("never changes the caller's object", () => {
    const obj = { a: { b: { c: { d: { passcode: '123456' } } } } };
    const copy = redactDeep(obj);
    expect(obj.a.b.c.d.passcode).toBe('123456');
    expect(copy).toEqual({ a: { b: { c: { d: { passcode: '[redacted]' } } } } });
  });

  it('stays bounded: cycles, depth and size are cut, and a secret past the depth bound is not printed', () => {
    const cyclic: Record<string, unknown> = { name: 'loop', token: 't0k' };
    cyclic.self = cyclic;
    expect(redactDeep(cyclic)).toEqual({ name: 'loop', token: '[redacted]', self: '[circular]' });

    // A shared (not cyclic) object is printed wherever it appears.
    const shared = { v: 1 };
    expect(redactDeep({ a: shared, b: shared })).toEqual({ a: { v: 1 }, b: { v: 1 } });

    let deep: Record<string, unknown> = { secret: 's3cret-deep' };
    for (let i = 0; i < REDACT_MAX_DEPTH + 5; i++) deep = { next: deep };
    const out = JSON.stringify(redactDeep(deep));
    expect(out).not.toContain('s3cret-deep');
    expect(out).toContain('[too deep]');

    const wide = { items: Array.from({ length: REDACT_MAX_NODES + 10 }, (_, i) => ({ i, pin: `${i}` })) };
    const cut = redactDeep(wide) as { items: unknown[] };
    expect(cut.items).toContain('[truncated]');
    expect(JSON.stringify(cut)).not.toMatch(/"pin":"\d/);
  });
});
