/** Finds a folder of hardware/ (board and modem data) from the source tree or a build under dist/. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, MfaError } from './errors.ts';

export function hardwareDir(name: 'boards' | 'modems'): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'hardware', name);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new MfaError(`hardware/${name} not found`, ErrorCode.ConfigFileUnreadable);
}
