/**
 * The `mfabox` command framework. A command declares its options once (kind, value name, help
 * line, environment fallback, required, choices, range) and its `run` receives typed values.
 * Parsing is Node's `util.parseArgs` in strict mode, so a misspelt flag (`--confim`) is an error
 * that names the known ones instead of being ignored, and `--help` works on every command.
 *
 *   export const fooCommand = defineCommand({
 *     name: 'foo bar',
 *     summary: 'Do the thing',
 *     options: {
 *       config: { type: 'string', value: 'FILE', help: 'the config file', env: 'MFABOX_CONFIG', required: true },
 *       confirm: { type: 'boolean', help: 'really do it' },
 *     },
 *     run({ values }) { … values.config is a string, values.confirm a boolean … },
 *   });
 */
import { parseArgs } from 'node:util';
import { ErrorCode, MfaError } from '../errors.ts';

interface OptionBase {
  /** One line for `--help`. */
  help: string;
  short?: string;
}
interface ValuedOption extends OptionBase {
  /** The placeholder shown in usage, e.g. FILE, N, PATH. */
  value: string;
  /** Read when the flag is absent. */
  env?: string;
  required?: boolean;
}
export interface StringOption extends ValuedOption {
  type: 'string';
  choices?: readonly string[];
  default?: string;
}
export interface IntegerOption extends ValuedOption {
  type: 'integer';
  min: number;
  max: number;
  default?: number;
}
export interface BooleanOption extends OptionBase {
  type: 'boolean';
}
export type OptionSpec = StringOption | IntegerOption | BooleanOption;
export type OptionSpecs = Record<string, OptionSpec>;

type ValueOf<S> = S extends { type: 'boolean' }
  ? boolean
  : S extends { type: 'integer' }
    ? number
    : S extends { choices: readonly (infer C)[] }
      ? C
      : string;
type AlwaysSet<S> = S extends { type: 'boolean' }
  ? true
  : S extends { required: true }
    ? true
    : S extends { default: string | number }
      ? true
      : false;
/** What `run` receives: booleans are always set, required and defaulted options too. */
export type OptionValues<O extends OptionSpecs> = {
  [K in keyof O]: AlwaysSet<O[K]> extends true ? ValueOf<O[K]> : ValueOf<O[K]> | undefined;
};

/** The words after the options, e.g. the SMS text. Without it, a stray word is an error. */
export interface ArgsSpec {
  value: string;
  help: string;
  required?: boolean;
}

export interface CommandSpec<O extends OptionSpecs> {
  /** e.g. "modem probe": the words the user types. */
  name: string;
  summary: string;
  /** Extra paragraphs for `--help`. */
  details?: string;
  options: O;
  args?: ArgsSpec;
  run(input: { values: OptionValues<O>; args: string[] }): Promise<number> | number;
}

/** A `mfabox` subcommand. `run` takes the words after the name and returns the exit code. */
export interface Command {
  name: string;
  summary: string;
  /** One line, without the leading "mfabox". */
  usage: string;
  help(): string;
  run(argv: string[]): Promise<number>;
}

const HELP_FLAGS = new Set(['--help', '-h']);

export function usageError(message: string, field?: string): MfaError {
  return new MfaError(message, ErrorCode.CliUsage, field === undefined ? {} : { field });
}

function flagWithValue(name: string, o: OptionSpec): string {
  return o.type === 'boolean' ? `--${name}` : `--${name} ${o.value}`;
}

function usageOf(name: string, options: OptionSpecs, args?: ArgsSpec): string {
  const parts = [name];
  for (const [k, o] of Object.entries(options)) {
    const f = flagWithValue(k, o);
    parts.push(o.type !== 'boolean' && o.required === true ? f : `[${f}]`);
  }
  if (args) parts.push(args.required === true ? `${args.value}…` : `[${args.value}…]`);
  return parts.join(' ');
}

function helpOf(spec: CommandSpec<OptionSpecs>, usage: string): string {
  const rows: [string, string][] = [];
  for (const [k, o] of Object.entries(spec.options)) {
    const notes: string[] = [];
    if (o.type !== 'boolean') {
      if (o.required === true) notes.push('required');
      if (o.type === 'integer') notes.push(`${o.min}–${o.max}`);
      if (o.type === 'string' && o.choices) notes.push(`one of ${o.choices.join(', ')}`);
      if (o.default !== undefined) notes.push(`default ${String(o.default)}`);
      if (o.env !== undefined) notes.push(`or ${o.env}`);
    }
    const left = `${o.short ? `-${o.short}, ` : '    '}${flagWithValue(k, o)}`;
    rows.push([left, notes.length ? `${o.help} (${notes.join('; ')})` : o.help]);
  }
  rows.push(['-h, --help', 'show this help']);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  const lines = [`Usage: mfabox ${usage}`, '', spec.summary];
  if (spec.details) lines.push('', spec.details);
  if (spec.args) lines.push('', `${spec.args.value}: ${spec.args.help}`);
  lines.push('', 'Options:', ...rows.map(([l, r]) => `  ${l.padEnd(width)}${r}`));
  return lines.join('\n');
}

/** Edit distance, for "did you mean" on a misspelt flag. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (cur[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** The entries of `known` closest to `word`, if they are close enough to be a typo of it. */
export function suggest(word: string, known: readonly string[]): string[] {
  const scored = known.map((k) => ({ k, d: distance(word, k) }));
  const best = Math.min(...scored.map((s) => s.d));
  return scored
    .filter((s) => s.d === best && best <= Math.max(2, Math.floor(s.k.length / 3)))
    .map((s) => s.k);
}

/** "did you mean --a or --b?" for a typo, or nothing. */
export function didYouMean(word: string, known: readonly string[], show = (k: string) => k): string {
  const near = suggest(word, known);
  return near.length ? ` (did you mean ${near.map(show).join(' or ')}?)` : '';
}

/** parseArgs's TypeError, in our words: what was wrong and which flags exist. */
function parseError(name: string, options: OptionSpecs, e: unknown): MfaError {
  const code = (e as NodeJS.ErrnoException).code;
  const msg = e instanceof Error ? e.message : String(e);
  const known = Object.keys(options).map((k) => `--${k}`);
  const knownLine = `known options: ${[...known, '--help'].join(', ')}`;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'([^']+)'/.exec(msg)?.[1] ?? msg;
    return usageError(
      `${name}: unknown option ${flag}${didYouMean(flag.replace(/=.*$/, ''), known)}; ${knownLine}`,
    );
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL')
    return usageError(`${name}: ${msg.replace(/\. .*$/, '')}: this command takes only options; ${knownLine}`);
  return usageError(`${name}: ${msg}; see mfabox ${name} --help`);
}

function valueOf(
  cmd: string,
  name: string,
  o: OptionSpec,
  raw: string | boolean | undefined,
): string | number | boolean | undefined {
  if (o.type === 'boolean') return raw === true;
  const fromEnv = raw === undefined && o.env !== undefined ? process.env[o.env] : undefined;
  // An empty value (`--to ''`, `MFABOX_CONFIG=`) counts as not given.
  const given = raw !== undefined && raw !== '' ? String(raw) : fromEnv !== '' ? fromEnv : undefined;
  const label = `${cmd}: --${name}${o.env !== undefined ? ` (or ${o.env})` : ''}`;
  if (given === undefined) {
    if (o.default !== undefined) return o.default;
    if (o.required === true) throw usageError(`${label} ${o.value} is required`, name);
    return undefined;
  }
  if (o.type === 'integer') {
    const n = /^-?\d+$/.test(given.trim()) ? Number(given) : NaN;
    if (!Number.isSafeInteger(n) || n < o.min || n > o.max)
      throw usageError(`${label} must be an integer ${o.min}–${o.max}, got "${given}"`, name);
    return n;
  }
  if (o.choices && !o.choices.includes(given))
    throw usageError(`${label} must be one of ${o.choices.join(', ')}, got "${given}"`, name);
  return given;
}

/** Builds a Command from its declaration; see the example at the top of this file. */
export function defineCommand<const O extends OptionSpecs>(spec: CommandSpec<O>): Command {
  const usage = usageOf(spec.name, spec.options, spec.args);
  const parseOptions = Object.fromEntries(
    Object.entries(spec.options).map(([k, o]) => [
      k,
      {
        type: o.type === 'boolean' ? ('boolean' as const) : ('string' as const),
        ...(o.short ? { short: o.short } : {}),
      },
    ]),
  );
  const help = (): string => helpOf(spec, usage);
  return {
    name: spec.name,
    summary: spec.summary,
    usage,
    help,
    async run(argv) {
      const end = argv.indexOf('--');
      if ((end < 0 ? argv : argv.slice(0, end)).some((a) => HELP_FLAGS.has(a))) {
        console.log(help());
        return 0;
      }
      let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
      try {
        parsed = parseArgs({
          args: argv,
          options: parseOptions,
          strict: true,
          allowPositionals: spec.args !== undefined,
        });
      } catch (e) {
        throw parseError(spec.name, spec.options, e);
      }
      const values: Record<string, unknown> = {};
      for (const [k, o] of Object.entries(spec.options))
        values[k] = valueOf(spec.name, k, o, parsed.values[k]);
      if (spec.args?.required === true && parsed.positionals.length === 0)
        throw usageError(`${spec.name}: ${spec.args.value} is required; usage: mfabox ${usage}`);
      return spec.run({ values: values as OptionValues<O>, args: parsed.positionals });
    },
  };
}
