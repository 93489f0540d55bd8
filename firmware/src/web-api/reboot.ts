/** The real reboot, for the System page's Reboot and factory reset (main.ts injects it). */
import { execFile } from 'node:child_process';

/** `systemctl reboot`: systemd stops mfabox cleanly (the store closes, the outbox finishes) first. */
export function systemReboot(): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('systemctl', ['reboot'], { timeout: 30_000 }, (err, _out, stderr) =>
      err ? reject(new Error(`systemctl reboot failed: ${stderr.trim() || err.message}`)) : resolve(),
    ),
  );
}
