/** The `mfabox` command line. */
import type { Command } from './commands/command.ts';
import { runCli } from './commands/dispatch.ts';
import { ErrorCode, describeError, isMfaError } from './errors.ts';

const argv = process.argv.slice(2);
// `mfabox start` (the service, at every boot) loads its own command's modules only, not those
// of every other command: fewer modules to initialise before RADIUS answers. `mfabox warm` does
// the same, so the code cache it writes holds what a start compiles (release/warm.ts).
const commands: Promise<readonly Command[]> =
  argv[0] === 'start'
    ? import('./commands/run.ts').then((m) => [m.startCommand])
    : argv[0] === 'warm'
      ? import('./commands/warm.ts').then((m) => [m.warmCommand])
      : import('./commands/index.ts').then((m) => m.COMMANDS);

commands
  .then((c) => runCli(argv, c))
  .then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(`mfabox: ${isMfaError(e) ? e.message : describeError(e)}`);
      process.exitCode = isMfaError(e, ErrorCode.CliUsage) ? 2 : 1;
    },
  );
