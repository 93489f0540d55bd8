/**
 * The `mfabox` command as a real process (the suite's build, test/helpers/mfabox-entry.ts), as an
 * admin would run it beside the service: its exit code, stdout and stderr apart.
 */
import { spawn } from 'node:child_process';
import { mfaboxEnv, mfaboxScript } from './mfabox-entry.ts';

export interface CliRun {
  code: number | null;
  out: string;
  err: string;
}

/** @param logLevel MFABOX_LOG_LEVEL for the child; 'warn' keeps stderr to what the admin sees. */
export function mfabox(args: string[], logLevel = 'warn'): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mfaboxScript(), ...args], {
      env: mfaboxEnv({ MFABOX_LOG_LEVEL: logLevel }),
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}
