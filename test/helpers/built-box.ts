/**
 * A built MFA Box in a temp directory, laid out like a release (scripts/mfabox.mjs, dist/,
 * hardware/, node_modules; no TypeScript), and the smallest config `mfabox start` runs with.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');

export function buildBoxInto(dir: string): void {
  execFileSync(process.execPath, [join(repo, 'scripts/build.mjs'), '--out', join(dir, 'dist')], {
    cwd: repo,
    stdio: 'pipe',
  });
  mkdirSync(join(dir, 'scripts'), { recursive: true });
  // The launcher and its code cache, the warm-up first boot and upgrade run, and the unit it reads
  // its environment from.
  for (const f of ['mfabox.mjs', 'code-cache.mjs', 'warm-cache.mjs', 'mfabox.service'])
    cpSync(join(repo, 'scripts', f), join(dir, 'scripts', f));
  cpSync(join(repo, 'package.json'), join(dir, 'package.json'));
  cpSync(join(repo, 'hardware'), join(dir, 'hardware'), { recursive: true });
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
}

/** Writes FILE: loopback RADIUS and web on free ports, one client, the given modems; returns FILE. */
export function writeStartConfig(
  file: string,
  dataDir: string,
  modems: { name: string; path: string }[] = [],
): string {
  writeFileSync(
    file,
    JSON.stringify({
      dataDir,
      deviceKeyFile: `${dataDir}.device.key`,
      radius: {
        listen: [{ address: '127.0.0.1', port: 0 }],
        accountingPort: 0,
        clients: [{ name: 'ns', address: '127.0.0.1', secret: 'built-box-test-secret' }],
      },
      modems,
      web: { address: '127.0.0.1', port: 0, tls: false },
      log: { level: 'warn' },
    }),
  );
  return file;
}
