/**
 * A one-packet view of FreeRADIUS's `radclient`, the real peer for every RADIUS test: the reply's
 * code and its attributes by name. Built on the general runner in integration/helpers.
 */
import { radclient as runRadclient } from '../integration/helpers/radclient.ts';

export interface RadclientReply {
  /** e.g. "Access-Accept"; undefined when no reply arrived. */
  code: string | undefined;
  attributes: Map<string, string[]>;
  output: string;
}

export async function radclient(
  target: string,
  secret: string,
  attributes: [string, string][],
  opts: { kind?: 'auth' | 'acct' | 'status'; timeoutSeconds?: number; retries?: number } = {},
): Promise<RadclientReply> {
  const r = await runRadclient({
    server: target,
    command: opts.kind ?? 'auth',
    secret,
    lines: attributes.map(([k, v]) => `${k} = ${v}`),
    timeout: opts.timeoutSeconds ?? 2,
    retries: opts.retries ?? 1,
  });
  const first = r.replies[0];
  const byName = new Map<string, string[]>();
  for (const [k, v] of first?.attributes ?? []) byName.set(k, [...(byName.get(k) ?? []), v]);
  return { code: first?.code, attributes: byName, output: `${r.stdout}${r.stderr}` };
}

/** Quote a string attribute value for radclient's input syntax. */
export function q(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
