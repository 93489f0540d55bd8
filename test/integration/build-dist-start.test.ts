/**
 * `npm run build` output runs: the build goes to a temp directory laid out like a release
 * (scripts/mfabox.mjs, dist/, hardware/, node_modules; no TypeScript sources, so tsx cannot be
 * what runs), and `mfabox start` there serves the web page and the health API.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBoxInto, writeStartConfig } from '../helpers/built-box.ts';

describe('npm run build output starts', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-dist-'));
    buildBoxInto(dir);
  }, 180_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('puts the web assets beside the compiled firmware and ships no TypeScript', () => {
    expect(existsSync(join(dir, 'dist/firmware/src/cli.js'))).toBe(true);
    // the one-file bundle scripts/mfabox.mjs prefers
    expect(existsSync(join(dir, 'dist/firmware/src/bundle/mfabox.cjs'))).toBe(true);
    expect(
      existsSync(join(dir, 'dist/web/status.html')) || existsSync(join(dir, 'dist/web/index.html')),
    ).toBe(true);
    expect(existsSync(join(dir, 'firmware'))).toBe(false);
  });

  /**
   * Starts the built box (config and data named by `name`), waits for its Web line, runs `then`
   * with the page's URL, stops it and waits for the exit; returns everything it printed.
   */
  async function startBuilt(
    name: string,
    extraEnv: NodeJS.ProcessEnv,
    then: (url: string) => Promise<void>,
  ): Promise<string> {
    const cfg = writeStartConfig(join(dir, `${name}.json`), join(dir, `data-${name}`));
    const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
    delete env.MFABOX_FROM_SOURCE;
    const child = spawn(process.execPath, [join(dir, 'scripts/mfabox.mjs'), 'start', '--config', cfg], {
      cwd: dir,
      env,
    });
    let out = '';
    try {
      const url = await new Promise<string>((res, rej) => {
        const on = (d: Buffer): void => {
          out += d.toString();
          const m = /Web\s+(http:\/\/\S+)/.exec(out);
          if (m?.[1]) res(m[1]);
        };
        child.stdout.on('data', on);
        child.stderr.on('data', on);
        child.on('exit', (code) => rej(new Error(`exited ${code}: ${out}`)));
      });
      await then(url);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    return out;
  }

  it('mfabox start from the build serves the page and /api/health', async () => {
    await startBuilt('plain', {}, async (url) => {
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('MFA Box');
      expect((await fetch(`${url}/api/health`)).status).toBeLessThan(500);
    });
  }, 120_000);

  /** Starts the built box with a code cache directory, waits for its Web line, runs `then`, stops it. */
  async function startWithCache(cacheDir: string, then: () => Promise<void>): Promise<void> {
    const out = await startBuilt('cache', { CACHE_DIRECTORY: cacheDir }, async (url) => {
      expect((await fetch(`${url}/api/health`)).status).toBeLessThan(500);
      await then();
    });
    expect(out).not.toContain('could not write the code cache');
  }

  const cacheFiles = (d: string): string[] =>
    existsSync(d) ? readdirSync(d).filter((f) => f.startsWith('mfabox-code-')) : [];
  async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
    for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 100)))
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }

  it('writes a V8 code cache after the first start, reads it at the next, rewrites a bad one', async () => {
    const cacheDir = join(dir, 'cache');
    // 1. No cache yet: one is written about a second after the start.
    await startWithCache(cacheDir, () => until('the code cache', () => cacheFiles(cacheDir).length === 1));
    const [name] = cacheFiles(cacheDir);
    const file = join(cacheDir, name ?? '');
    const written = statSync(file).mtimeMs;
    expect(statSync(file).size).toBeGreaterThan(100_000);
    // 2. A good cache is used as it is, not written again.
    await startWithCache(cacheDir, () => new Promise((r) => setTimeout(r, 3000)));
    expect(cacheFiles(cacheDir)).toEqual([name]);
    expect(statSync(file).mtimeMs).toBe(written);
    // 3. A damaged one is rejected by V8: the box starts all the same and writes a good one.
    const garbage = Buffer.alloc(statSync(file).size, 0x5a);
    writeFileSync(file, garbage);
    await startWithCache(cacheDir, () =>
      until('the rewritten cache', () => !readFileSync(file).equals(garbage)),
    );
    expect(cacheFiles(cacheDir)).toEqual([name]);
  }, 180_000);

  // ~25 s: the rewrite comes REWRITE_AFTER_START_MS (20 s) after the start, the box's real delay
  // (no knob to shorten it in a release); the rules themselves: test/unit/release/code-cache.test.ts.
  it("replaces the warm-up's trial cache once with a full one, which the next start leaves alone", async () => {
    const cacheDir = join(dir, 'cache-trial');
    await startWithCache(cacheDir, () => until('the code cache', () => cacheFiles(cacheDir).length === 1));
    // What `mfabox warm` leaves: a cache under the trial name.
    const [name] = cacheFiles(cacheDir);
    const full = join(cacheDir, name ?? '');
    const trial = full.replace(/\.v8$/, '.trial.v8');
    renameSync(full, trial);
    // The first start accepts it, and writes the full cache once, well after its start.
    const t = Date.now();
    await startWithCache(cacheDir, () =>
      until('the full cache', () => existsSync(full) && !existsSync(trial), 60_000),
    );
    expect(Date.now() - t).toBeGreaterThan(15_000);
    expect(cacheFiles(cacheDir)).toEqual([name]);
    // The next start accepts the full one and does not write it again.
    const written = statSync(full).mtimeMs;
    await startWithCache(cacheDir, () => new Promise((r) => setTimeout(r, 3000)));
    expect(statSync(full).mtimeMs).toBe(written);
    expect(cacheFiles(cacheDir)).toEqual([name]);
  }, 180_000);

  it('keeps the validated config for the next start of the same build and file; a bad file is refused all the same', async () => {
    const cacheDir = join(dir, 'cache-config');
    const kept = (): string[] => readdirSync(cacheDir).filter((f) => f.startsWith('mfabox-config-'));
    await startBuilt('kept', { CACHE_DIRECTORY: cacheDir }, () => Promise.resolve());
    const [file] = kept();
    expect(file).toBeDefined();
    const written = statSync(join(cacheDir, file ?? '')).mtimeMs;
    // The same file again: taken from the cache (not written again), and the box works.
    await startBuilt('kept', { CACHE_DIRECTORY: cacheDir }, async (url) => {
      expect((await fetch(`${url}/api/health`)).status).toBeLessThan(500);
    });
    expect(kept()).toEqual([file]);
    expect(statSync(join(cacheDir, file ?? '')).mtimeMs).toBe(written);
    // A file that fails validation is refused with the field named; nothing is cached for it.
    const bad = JSON.parse(readFileSync(join(dir, 'kept.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...bad, passcode: { ttlSeconds: 5 } }));
    const env: NodeJS.ProcessEnv = { ...process.env, CACHE_DIRECTORY: cacheDir };
    delete env.MFABOX_FROM_SOURCE;
    const r = spawnSync(
      process.execPath,
      [join(dir, 'scripts/mfabox.mjs'), 'start', '--config', join(dir, 'bad.json')],
      { env, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('passcode.ttlSeconds');
    expect(kept()).toEqual([file]);
  }, 180_000);
});
