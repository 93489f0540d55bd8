/**
 * `systemd-analyze verify` and `security --offline` on unit files, with no running systemd.
 * verify runs with --root on a tree that holds the units and, for each command they run, either
 * the real file (a flashed rootfs) or a stub (the repo's units on their own). The host's unit
 * directory is copied in so targets such as multi-user.target resolve.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export const systemdAnalyzeAvailable = existsSync('/usr/bin/systemd-analyze');

const SEARCH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Absolute paths of the programs a unit runs (ExecStart=, ExecStartPre=, ...). */
export function unitCommands(unitText: string): string[] {
  const out: string[] = [];
  for (const m of unitText.matchAll(/^Exec\w+=[-@:+!]*(\S+)/gm)) {
    const cmd = m[1] ?? '';
    out.push(cmd.startsWith('/') ? cmd : `@${cmd}`);
  }
  return out;
}

/**
 * Places `units` (file paths) in ROOT/etc/systemd/system and makes ROOT a tree verify accepts.
 * With `stub`, missing commands become stub scripts; without, they must exist in ROOT.
 */
export function prepareVerifyRoot(root: string, units: string[], stub: boolean): void {
  const sys = join(root, 'usr/lib/systemd/system');
  if (!existsSync(join(sys, 'multi-user.target'))) {
    mkdirSync(dirname(sys), { recursive: true });
    cpSync('/usr/lib/systemd/system', sys, { recursive: true });
  }
  const etc = join(root, 'etc/systemd/system');
  mkdirSync(etc, { recursive: true });
  for (const u of units) {
    const target = join(etc, basename(u));
    if (u !== target) cpSync(u, target);
    if (!stub) continue;
    for (const c of unitCommands(readFileSync(u, 'utf8'))) {
      const path = c.startsWith('@') ? join('/usr/local/bin', c.slice(1)) : c;
      const bare = c.startsWith('@') && SEARCH.some((d) => existsSync(join(root, d, c.slice(1))));
      if (bare || existsSync(join(root, path))) continue;
      mkdirSync(join(root, dirname(path)), { recursive: true });
      writeFileSync(join(root, path), '#!/bin/sh\n');
      chmodSync(join(root, path), 0o755);
    }
  }
}

/** Runs verify on each unit name inside ROOT; returns the output lines about our units. */
export function verifyUnits(root: string, names: string[]): { status: number | null; problems: string[] } {
  const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, ...names], { encoding: 'utf8' });
  const problems = `${r.stdout}${r.stderr}`
    .split('\n')
    .filter((l) => l.trim() !== '' && names.some((n) => l.includes(n.replace(/\.\w+$/, ''))));
  return { status: r.status, problems };
}

export interface SecurityScore {
  exposure: number;
  level: string;
  text: string;
}

export function securityScore(unitPath: string): SecurityScore {
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unitPath], {
    encoding: 'utf8',
  });
  const text = `${r.stdout}${r.stderr}`;
  const m = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(text);
  if (!m) throw new Error(`no exposure level in: ${text}`);
  return { exposure: Number(m[1]), level: m[2] ?? '', text };
}
