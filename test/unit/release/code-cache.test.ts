/**
 * scripts/code-cache.mjs: which start writes the bundle's V8 code cache, and how. The warm-up's
 * trial cache is replaced once by the first service start, a full one is never rewritten (one
 * write per release on an SD card, not one per start), and a write is atomic. Real V8 caches
 * (vm.Script) on a small script; the launcher's use of it with the real bundle:
 * test/integration/build-dist-start.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import vm from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

interface Files {
  dir: string;
  full: string;
  trial: string;
}
type Kind = 'full' | 'trial';
interface CodeCache {
  CACHE_AFTER_START_MS: number;
  REWRITE_AFTER_START_MS: number;
  cacheFiles(dir: string, key: string): Files;
  readCache(files: Files): { kind: Kind; data: Buffer } | undefined;
  writePlan(state: string, kind: Kind | undefined): { kind: Kind; afterMs: number } | undefined;
  writeCache(
    files: Files,
    kind: Kind,
    createData: () => Buffer,
    warn?: (line: string) => void,
  ): Promise<boolean>;
}

const script = resolve(import.meta.dirname, '../../../scripts/code-cache.mjs');
const cc = (await import(script)) as CodeCache;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mfabox-code-cache-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const names = (): string[] => readdirSync(dir).sort();

/**
 * One start as scripts/mfabox.mjs runs it: reads the cache, compiles `source` with it, runs
 * `calls` of its functions; returns what V8 made of the cache and the write this start plans.
 */
function start(files: Files, source: string, calls: string[]) {
  const read = cc.readCache(files);
  const s = new vm.Script(source, read ? { cachedData: read.data } : {});
  const state = !read ? 'none' : s.cachedDataRejected ? 'rejected' : 'accepted';
  const fns = s.runInThisContext() as Record<string, () => number>;
  for (const c of calls) fns[c]?.();
  return { state, kind: read?.kind, plan: cc.writePlan(state, read?.kind), script: s };
}

/** A script of two functions, new to this V8 (its in-memory compilation cache never helps). */
const twoFunctions = (): string =>
  `({ a() { return ${JSON.stringify(randomUUID())}.length; }, b() { let n = 0; for (let i = 0; i < 9; i++) n += i * ${Math.random()}; return n; } })`;

describe('scripts/code-cache.mjs', () => {
  it('plans a write only for a start without a usable cache, or one on the warm-up cache', () => {
    expect(cc.writePlan('off', undefined)).toBeUndefined();
    expect(cc.writePlan('none', undefined)).toEqual({ kind: 'full', afterMs: cc.CACHE_AFTER_START_MS });
    expect(cc.writePlan('rejected', 'full')).toEqual({ kind: 'full', afterMs: cc.CACHE_AFTER_START_MS });
    expect(cc.writePlan('rejected', 'trial')).toEqual({ kind: 'full', afterMs: cc.CACHE_AFTER_START_MS });
    expect(cc.writePlan('accepted', 'trial')).toEqual({ kind: 'full', afterMs: cc.REWRITE_AFTER_START_MS });
    expect(cc.writePlan('accepted', 'full')).toBeUndefined();
    // After the modem and the directory have run, yet well inside the first minute.
    expect(cc.REWRITE_AFTER_START_MS).toBeGreaterThanOrEqual(10_000);
    expect(cc.REWRITE_AFTER_START_MS).toBeLessThanOrEqual(60_000);
  });

  it('reads the full cache before the trial one, either alone, and nothing from an empty directory', () => {
    const files = cc.cacheFiles(dir, 'k1');
    expect(files.full).toBe(join(dir, 'mfabox-code-k1.v8'));
    expect(files.trial).toBe(join(dir, 'mfabox-code-k1.trial.v8'));
    expect(cc.readCache(files)).toBeUndefined();
    writeFileSync(files.trial, 'T');
    expect(cc.readCache(files)).toEqual({ kind: 'trial', data: Buffer.from('T') });
    writeFileSync(files.full, 'F');
    expect(cc.readCache(files)).toEqual({ kind: 'full', data: Buffer.from('F') });
    rmSync(files.trial);
    expect(cc.readCache(files)?.kind).toBe('full');
  });

  it('warm-up, first start, restarts: the trial cache is replaced once by a fuller one, then never written again', async () => {
    const files = cc.cacheFiles(dir, 'k2');
    const source = twoFunctions();
    // The warm-up's trial start runs a() only (as it runs no modem) and writes the trial cache.
    const warm = start(files, source, ['a']);
    expect(warm.state).toBe('none');
    expect(await cc.writeCache(files, 'trial', () => warm.script.createCachedData())).toBe(true);
    expect(names()).toEqual(['mfabox-code-k2.trial.v8']);
    const trialBytes = readFileSync(files.trial);

    // The first service start accepts it, runs both, and plans the one rewrite.
    const first = start(files, source, ['a', 'b']);
    expect([first.state, first.kind]).toEqual(['accepted', 'trial']);
    expect(first.plan).toEqual({ kind: 'full', afterMs: cc.REWRITE_AFTER_START_MS });
    if (!first.plan) return;
    expect(await cc.writeCache(files, first.plan.kind, () => first.script.createCachedData())).toBe(true);
    // The full one replaced the trial one, and holds b(), which was compiled lazily after it was read.
    expect(names()).toEqual(['mfabox-code-k2.v8']);
    expect(readFileSync(files.full).length).toBeGreaterThan(trialBytes.length);

    // Every later start accepts the full cache and plans no write.
    for (let i = 0; i < 3; i++) {
      const again = start(files, source, ['a', 'b']);
      expect([again.state, again.kind, again.plan]).toEqual(['accepted', 'full', undefined]);
    }
  });

  it('a write that fails midway leaves the old cache as it was (and says why); the next one tidies up', async () => {
    const write = cc.writeCache;
    const files = cc.cacheFiles(dir, 'k3');
    writeFileSync(files.trial, 'old trial');
    // A power cut during an earlier write left a temp file; an older release left its cache.
    writeFileSync(`${files.full}.4242.tmp`, 'torn');
    writeFileSync(join(dir, 'mfabox-code-older.v8'), 'older release');
    writeFileSync(join(dir, 'mfabox-config-x.json'), '{}');
    const warned: string[] = [];
    const failed = await write(
      files,
      'full',
      () => {
        throw new Error('serialiser out of memory');
      },
      (l) => warned.push(l),
    );
    expect(failed).toBe(false);
    expect(warned).toEqual([`mfabox: could not write the code cache in ${dir}: serialiser out of memory`]);
    expect(existsSync(files.full)).toBe(false);
    expect(readFileSync(files.trial, 'utf8')).toBe('old trial');
    // So the next start reads the trial cache again and plans the rewrite again.
    expect(cc.readCache(files)?.kind).toBe('trial');

    expect(await write(files, 'full', () => Buffer.from('new full'))).toBe(true);
    expect(readFileSync(files.full, 'utf8')).toBe('new full');
    // Only the new cache is left among the code caches; the config cache is not the launcher's.
    expect(names()).toEqual(['mfabox-code-k3.v8', 'mfabox-config-x.json']);
  });

  it('a directory it cannot write to is one line, and no file', async () => {
    const write = cc.writeCache;
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, '');
    const files = cc.cacheFiles(join(blocker, 'cache'), 'k4');
    const warned: string[] = [];
    expect(
      await write(
        files,
        'full',
        () => Buffer.from('x'),
        (l) => warned.push(l),
      ),
    ).toBe(false);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toContain('could not write the code cache');
  });
});
