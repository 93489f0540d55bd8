/**
 * `npm run build` output runs: the build goes to a temp directory laid out like a release
 * (scripts/mfabox.mjs, dist/, hardware/, node_modules; no TypeScript sources, so tsx cannot be
 * what runs), and `mfabox start` there serves the web page and the health API.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
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

  it('mfabox start from the build serves the page and /api/health', async () => {
    const cfg = writeStartConfig(join(dir, 'config.json'), join(dir, 'data'));
    const env = { ...process.env };
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
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(await page.text()).toContain('MFA Box');
      expect((await fetch(`${url}/api/health`)).status).toBeLessThan(500);
    } finally {
      child.kill('SIGTERM');
    }
  }, 120_000);
});
