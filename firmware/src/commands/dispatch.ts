/**
 * Finds the command a `mfabox` command line names and runs it. Commands whose names share a first
 * word ("modem probe", "modem send") form a group: `mfabox modem` and `mfabox modem --help` list
 * the group, and a wrong subcommand names the right ones.
 */
import { didYouMean, type Command } from './command.ts';

const HELP = new Set(['--help', '-h']);

function table(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, r]) => `  ${l.padEnd(width)}${r}`);
}

/** The top-level help: every command with its summary. */
export function topHelp(commands: readonly Command[]): string {
  return [
    'Usage: mfabox <command> [options]',
    '',
    'Commands:',
    ...table(commands.map((c) => [c.name, c.summary])),
    '',
    'Run `mfabox <command> --help` for its options.',
  ].join('\n');
}

function groupOf(commands: readonly Command[], word: string): Command[] {
  return commands.filter((c) => c.name.startsWith(`${word} `));
}

export function groupHelp(commands: readonly Command[], word: string): string {
  const members = groupOf(commands, word);
  return [
    `Usage: mfabox ${word} <subcommand> [options]`,
    '',
    'Subcommands:',
    ...table(members.map((c) => [c.name.slice(word.length + 1), c.summary])),
    '',
    `Run \`mfabox ${word} <subcommand> --help\` for its options.`,
  ].join('\n');
}

/** Runs the command line; returns the exit code (2 for a usage error found here). */
export async function runCli(argv: string[], commands: readonly Command[]): Promise<number> {
  const first = argv[0];
  if (first === undefined || HELP.has(first)) {
    console.log(topHelp(commands));
    return first === undefined ? 2 : 0;
  }
  // `mfabox help modem send` is `mfabox modem send --help`.
  if (first === 'help')
    return argv.length === 1
      ? (console.log(topHelp(commands)), 0)
      : runCli([...argv.slice(1), '--help'], commands);
  // Longest match first, so "modem probe" wins over a plain "modem".
  const sorted = [...commands].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  for (const c of sorted) {
    const words = c.name.split(' ');
    if (words.every((w, i) => argv[i] === w)) return c.run(argv.slice(words.length));
  }
  const group = groupOf(commands, first);
  if (group.length > 0) {
    const sub = argv[1];
    if (sub === undefined || HELP.has(sub)) {
      console.log(groupHelp(commands, first));
      return sub === undefined ? 2 : 0;
    }
    const subs = group.map((c) => c.name.slice(first.length + 1));
    const hint = didYouMean(sub, subs, (w) => `"${first} ${w}"`);
    console.error(`mfabox: unknown subcommand "${first} ${sub}"${hint}\n\n${groupHelp(commands, first)}`);
    return 2;
  }
  const words = [...new Set(commands.map((c) => c.name.split(' ')[0] ?? ''))];
  const hint = didYouMean(first, words, (w) => `"${w}"`);
  console.error(`mfabox: unknown command "${first}"${hint}\n\n${topHelp(commands)}`);
  return 2;
}
