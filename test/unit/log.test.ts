/**
 * log.ts redacts secrets by field name at any depth the code logs them (issue 9 §3): every name on
 * the list, including the monitor password, the PIN key and a challenge's State.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SECRET_FIELDS, configureLogging, logger } from '../../firmware/src/log.ts';

describe('log redaction', () => {
  it('censors every secret field at the top level and two levels down, at trace level', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d: Buffer) => (text += d.toString()));
    configureLogging({ level: 'trace', destination: out });
    const log = logger('test:redaction');
    for (const f of ['monitorPassword', 'pinKey', 'state', 'State', 'seed', 'monitorToken'])
      expect(SECRET_FIELDS).toContain(f);
    SECRET_FIELDS.forEach((f, i) => {
      const v = `s3cret-value-${i}-xyz`;
      log.trace({ [f]: v }, 'top');
      log.trace({ client: { [f]: `${v}-a` } }, 'nested');
      log.trace({ req: { client: { [f]: `${v}-b` } } }, 'deeper');
    });
    log.trace({ modemState: 'registered', user: 'alice' }, 'not secret');
    await new Promise((r) => setImmediate(r));
    expect(text).not.toMatch(/s3cret-value/);
    expect(text.match(/\[redacted\]/g)?.length).toBe(SECRET_FIELDS.length * 3);
    expect(text).toContain('"modemState":"registered"');
    configureLogging({ level: 'silent' });
  });
});
