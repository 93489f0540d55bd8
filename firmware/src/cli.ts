/** The `mfabox` command line. */
import { COMMANDS } from './commands/index.ts';
import { ErrorCode, describeError, isMfaError } from './errors.ts';

function help(): string {
  const lines = ['Usage: mfabox <command> [options]', '', 'Commands:'];
  for (const c of COMMANDS) lines.push(`  ${c.usage.padEnd(48)} ${c.summary}`);
  lines.push('', 'Run `mfabox <command> --help` for details.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    console.log(help());
    return argv.length === 0 ? 2 : 0;
  }
  // Longest match first, so "modem probe" wins over "modem".
  const sorted = [...COMMANDS].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  for (const c of sorted) {
    const words = c.name.split(' ');
    if (words.every((w, i) => argv[i] === w)) {
      const rest = argv.slice(words.length);
      if (rest.includes('--help')) {
        console.log(`Usage: mfabox ${c.usage}\n\n${c.summary}`);
        return 0;
      }
      return c.run(rest);
    }
  }
  console.error(`mfabox: unknown command "${argv.join(' ')}"\n\n${help()}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`mfabox: ${isMfaError(e) ? e.message : describeError(e)}`);
    process.exitCode = isMfaError(e, ErrorCode.CliUsage) ? 2 : 1;
  },
);
