/** A `mfabox` subcommand. `run` returns the process exit code. */
export interface Command {
  /** e.g. "modem probe" — words the user types. */
  name: string;
  usage: string;
  summary: string;
  run(args: string[]): Promise<number>;
}

/** Parses `--flag value` and `--flag` (boolean) pairs; the rest are positional. */
export function parseFlags(
  args: string[],
  booleans: readonly string[] = [],
): {
  flags: Map<string, string | true>;
  positional: string[];
} {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags.set(a.slice(2, eq), a.slice(eq + 1));
      else if (booleans.includes(a.slice(2)) || i + 1 >= args.length || (args[i + 1] ?? '').startsWith('--'))
        flags.set(a.slice(2), true);
      else flags.set(a.slice(2), args[++i] ?? '');
    } else positional.push(a);
  }
  return { flags, positional };
}
