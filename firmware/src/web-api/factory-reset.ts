/**
 * The factory reset's marker, and its end at the next start. A module of its own, so the start
 * (main.ts, before the store opens) does not load the web page's modules that system-actions.ts
 * brings.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { ErrorCode, MfaError } from '../errors.ts';
import { logger } from '../log.ts';

export const FACTORY_RESET_MARKER = 'factory-reset.pending';

const log = logger('web:system');

/**
 * At start, before the store opens: finishes a factory reset begun before the reboot by
 * emptying the data directory. Returns true when it did.
 */
export async function finishFactoryReset(dataDir: string): Promise<boolean> {
  const dir = resolve(dataDir);
  const marker = join(dir, FACTORY_RESET_MARKER);
  try {
    await stat(marker);
  } catch {
    return false;
  }
  if (!isAbsolute(dir) || dir === '/' || dir.split('/').filter(Boolean).length < 2)
    throw new MfaError(`refusing to empty ${dir} for a factory reset`, ErrorCode.ConfigInvalid, {
      field: 'dataDir',
    });
  // The marker goes last: a power cut during the wipe wipes again at the next start.
  for (const name of await readdir(dir))
    if (name !== FACTORY_RESET_MARKER) await rm(join(dir, name), { recursive: true, force: true });
  await rm(marker, { force: true });
  log.warn({ dataDir: dir }, 'factory reset finished: the data directory was emptied');
  return true;
}
