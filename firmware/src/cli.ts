/** The `mfabox` command line. */
import { runCli } from './commands/dispatch.ts';
import { COMMANDS } from './commands/index.ts';
import { ErrorCode, describeError, isMfaError } from './errors.ts';

runCli(process.argv.slice(2), COMMANDS).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`mfabox: ${isMfaError(e) ? e.message : describeError(e)}`);
    process.exitCode = isMfaError(e, ErrorCode.CliUsage) ? 2 : 1;
  },
);
