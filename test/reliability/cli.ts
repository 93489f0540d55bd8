/** Runs one `mfabox` command (test/helpers/mfabox-entry.ts) and returns its exit code and output. */
import { spawn } from 'node:child_process';
import { ROOT } from './harness.ts';
import { mfaboxEnv, mfaboxScript } from '../helpers/mfabox-entry.ts';

export function runCli(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [mfaboxScript(), ...args], {
      cwd: ROOT,
      env: mfaboxEnv({ MFABOX_LOG_LEVEL: 'warn' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const t = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
    c.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out });
    });
  });
}
