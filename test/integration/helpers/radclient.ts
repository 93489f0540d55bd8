/**
 * Runs FreeRADIUS radclient (the real NAS-side peer) with attribute lines on stdin.
 * radclient exits 1 on Access-Reject and on Access-Challenge (unless a filter file says
 * otherwise) and on no reply, so callers look at `replies` rather than at the exit code alone.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RadclientReply {
  code: string;
  /** Attribute lines in the order radclient printed them, e.g. ['Message-Authenticator', '0x…']. */
  attributes: [string, string][];
}

export interface RadclientResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  replies: RadclientReply[];
}

export interface RadclientOptions {
  server: string;
  command: 'auth' | 'acct' | 'status';
  secret: string;
  /** Attribute lines; one packet, or several separated by blank lines. */
  lines: string[];
  /** `-t`, seconds. */
  timeout?: number;
  /** `-r`. */
  retries?: number;
  /** Lines of a filter (expect) file: radclient then exits 0 only if the reply matches. */
  expect?: string[];
  extraArgs?: string[];
}

export function parseReplies(stdout: string): RadclientReply[] {
  const out: RadclientReply[] = [];
  let cur: RadclientReply | undefined;
  for (const line of stdout.split('\n')) {
    const m = /^Received (\S+) Id/.exec(line);
    if (m?.[1] !== undefined) {
      cur = { code: m[1], attributes: [] };
      out.push(cur);
      continue;
    }
    if (/^Sent /.test(line)) {
      cur = undefined;
      continue;
    }
    const a = /^\s+(\S+) = (.*)$/.exec(line);
    if (cur && a?.[1] !== undefined && a[2] !== undefined)
      cur.attributes.push([a[1], a[2].replace(/^"|"$/g, '')]);
  }
  return out;
}

export function radclient(o: RadclientOptions): Promise<RadclientResult> {
  const args = ['-x', '-t', String(o.timeout ?? 2), '-r', String(o.retries ?? 1)];
  if (o.expect) {
    const dir = mkdtempSync(join(tmpdir(), 'mfabox-radclient-'));
    writeFileSync(join(dir, 'req'), o.lines.join('\n') + '\n');
    writeFileSync(join(dir, 'expect'), o.expect.join('\n') + '\n');
    args.push('-f', `${join(dir, 'req')}:${join(dir, 'expect')}`);
  }
  args.push(...(o.extraArgs ?? []), o.server, o.command, o.secret);
  return new Promise((resolve, reject) => {
    const child = spawn('radclient', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ exitCode: code ?? -1, stdout, stderr, replies: parseReplies(stdout) });
    });
    child.stdin.end(o.expect ? '' : o.lines.join('\n') + '\n');
  });
}
