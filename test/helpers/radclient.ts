/**
 * Drives FreeRADIUS's `radclient`, the real peer for every RADIUS test. radclient exits 1 on
 * Access-Reject and on Access-Challenge, so the outcome is read from its `-x` output instead.
 */
import { execFile } from 'node:child_process';

export interface RadclientReply {
  /** e.g. "Access-Accept"; undefined when no reply arrived. */
  code: string | undefined;
  attributes: Map<string, string[]>;
  output: string;
}

export function radclient(
  target: string,
  secret: string,
  attributes: [string, string][],
  opts: { kind?: 'auth' | 'acct' | 'status'; timeoutSeconds?: number; retries?: number } = {},
): Promise<RadclientReply> {
  const body = attributes.map(([k, v]) => `${k} = ${v}`).join('\n') + '\n';
  const args = [
    '-x',
    '-r',
    String(opts.retries ?? 1),
    '-t',
    String(opts.timeoutSeconds ?? 2),
    target,
    opts.kind ?? 'auth',
    secret,
  ];
  return new Promise((resolve, reject) => {
    const child = execFile('radclient', args, { timeout: 30_000 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      // A non-zero exit is an answer (Reject, Challenge, no reply); only a failure to run is an error.
      if (err && typeof err.code !== 'number') return reject(new Error(`radclient failed: ${err.message}`));
      resolve(parseRadclient(output));
    });
    child.stdin?.end(body);
  });
}

export function parseRadclient(output: string): RadclientReply {
  const attributes = new Map<string, string[]>();
  const lines = output.split('\n');
  const idx = lines.findIndex((l) => l.startsWith('Received '));
  if (idx < 0) return { code: undefined, attributes, output };
  const code = /^Received (\S+)/.exec(lines[idx] ?? '')?.[1];
  for (const l of lines.slice(idx + 1)) {
    const m = /^\t(\S+) = (.*)$/.exec(l);
    if (!m) break;
    const [, name = '', raw = ''] = m;
    const value = raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
    attributes.set(name, [...(attributes.get(name) ?? []), value]);
  }
  return { code, attributes, output };
}

/** Quote a string attribute value for radclient's input syntax. */
export function q(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
