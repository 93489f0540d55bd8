/** The config file: atomic replace with revisions, history kept and pruned, SSH edits not overwritten; RFC 7396 merge patch. */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigFile } from '../../../firmware/src/config/config-file.ts';
import { applyMergePatch } from '../../../firmware/src/config/merge-patch.ts';
import { maskSecrets, resolveSecrets } from '../../../firmware/src/config/secrets.ts';
import { ErrorCode, isMfaError } from '../../../firmware/src/errors.ts';

describe('ConfigFile', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mfabox-cfg-'));
    path = join(dir, 'config.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the file when asked, replaces it by revision and keeps the last N versions', async () => {
    const f = await ConfigFile.open(path, { create: { a: 0 }, keep: 3 });
    expect(f.revision()).toBe(1);
    for (let i = 1; i <= 5; i++) expect(await f.replace(i, { a: i })).toBe(i + 1);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ a: 5 });
    expect(readdirSync(f.historyDir).sort()).toEqual(['3.json', '4.json', '5.json']);
    expect(JSON.parse(readFileSync(join(f.historyDir, '5.json'), 'utf8'))).toEqual({ a: 4 });
    // No temp files left behind.
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    // A restart continues the numbering after the history.
    expect((await ConfigFile.open(path)).revision()).toBe(6);
  });

  it('refuses a stale revision and a file edited on disk since it was read', async () => {
    const f = await ConfigFile.open(path, { create: { a: 0 } });
    await f.replace(1, { a: 1 });
    await expect(f.replace(1, { a: 2 })).rejects.toSatisfy((e) => isMfaError(e, ErrorCode.ConfigStale));
    writeFileSync(path, '{"a": "edited over ssh"}');
    await expect(f.replace(2, { a: 3 })).rejects.toThrow(/edited on disk/);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ a: 'edited over ssh' });
  });

  it('reports bad JSON by position, never by quoting the text (it may hold a secret)', async () => {
    writeFileSync(path, '{"secret": "hunter2" oops}');
    await expect(ConfigFile.open(path)).rejects.toSatisfy(
      (e) => isMfaError(e, ErrorCode.ConfigInvalid) && !(e as Error).message.includes('hunter2'),
    );
  });
});

describe('applyMergePatch (RFC 7396 appendix A)', () => {
  it.each([
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [
      ['a', 'b'],
      ['c', 'd'],
      ['c', 'd'],
    ],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ])('%j + %j = %j', (target, patch, result) => {
    expect(applyMergePatch(target, patch)).toEqual(result);
  });
});

describe('secrets', () => {
  const stored = {
    radius: {
      clients: [
        { name: 'a', secret: 'sa' },
        { name: 'b', secret: 'sb' },
      ],
    },
    directory: { kind: 'ldap', bindPassword: 'bp' },
  };

  it('masks every secret and matches list entries by name, never by position', () => {
    const masked = maskSecrets(stored);
    expect(JSON.stringify(masked)).not.toMatch(/"s[ab]"|"bp"/);
    // The admin deleted "a": "b" keeps its own secret, not a's.
    const edited = {
      radius: { clients: [{ name: 'b', secret: { set: true } }] },
      directory: { kind: 'ldap', bindPassword: { set: true } },
    };
    expect(resolveSecrets(edited, stored)).toEqual([]);
    expect(edited).toEqual({
      radius: { clients: [{ name: 'b', secret: 'sb' }] },
      directory: { kind: 'ldap', bindPassword: 'bp' },
    });
  });
});
