import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonErrorPosition } from '../../../firmware/src/config/json-position.ts';
import { loadConfigFile } from '../../../firmware/src/config/load.ts';
import { ErrorCode, isMfaError } from '../../../firmware/src/errors.ts';

describe('loadConfigFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-config-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reports a JSON syntax error by line and column without quoting the text (it may be a secret)', async () => {
    const file = join(dir, 'syntax.json');
    await writeFile(file, '{\n  "directory": {\n    "bindPassword": Sup3rS3cretValue\n  }\n}\n');
    const err = await loadConfigFile(file).catch((e: unknown) => e);
    expect(isMfaError(err, ErrorCode.ConfigInvalid)).toBe(true);
    const msg = (err as Error).message;
    expect(msg).toMatch(/line 3, column \d+/);
    expect(msg).not.toContain('Sup3r');
    expect(msg).not.toContain('assword');
  });

  it('names the unreadable file', async () => {
    const err = await loadConfigFile(join(dir, 'missing.json')).catch((e: unknown) => e);
    expect(isMfaError(err, ErrorCode.ConfigFileUnreadable)).toBe(true);
    expect((err as Error).message).toContain('missing.json');
  });

  it('does not echo a wrong-typed secret in a validation error', async () => {
    const file = join(dir, 'types.json');
    await writeFile(file, JSON.stringify({ modems: [{ name: 'm', path: '/dev/x', pin: 'abcd-secret' }] }));
    const err = await loadConfigFile(file).catch((e: unknown) => e);
    expect((err as Error).message).toContain('modems.0.pin');
    expect((err as Error).message).not.toContain('abcd-secret');
  });
});

describe('jsonErrorPosition', () => {
  it.each([
    ['', 'the file is empty'],
    ['{"a": 1,}', 'line 1, column 9'],
    ['{\n "a": tru }', 'line 2, column 7'],
    ['[1, 2\n, 3', 'line 2, column 4'],
    ['{"a": "x\ty"}', 'line 1, column 9'],
    ['{"a": [1, {"b": null}], "c": -1.5e3}', 'the text is valid JSON'],
    ['{"a": 1} x', 'line 1, column 10'],
  ])('%j → %s', (text, where) => {
    expect(jsonErrorPosition(text)).toBe(where);
  });

  it('agrees with JSON.parse on what is valid, over random mutations', () => {
    const base = JSON.stringify({
      radius: { clients: [{ name: 'n', secret: 's\\"x', port: 1812 }] },
      ok: [true, null],
    });
    for (let n = 0; n < 2000; n++) {
      const i = (n * 7919) % base.length;
      const mutated = base.slice(0, i) + ' ,:{}[]"x1'[n % 10] + base.slice(i + (n % 2));
      let valid = true;
      try {
        JSON.parse(mutated);
      } catch {
        valid = false;
      }
      expect(jsonErrorPosition(mutated) === 'the text is valid JSON').toBe(valid);
    }
  });
});
