/**
 * The device key that encrypts outbox texts at rest. It lives in a file beside the database, not
 * in it, so a copied LevelDB directory alone does not reveal live passcodes.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, MfaError } from '../errors.ts';
import { logger } from '../log.ts';

export const DEVICE_KEY_FILE = 'device.key';
export const DEVICE_KEY_BYTES = 32;

const log = logger('dispatch:device-key');

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readKey(path: string): Promise<Buffer | undefined> {
  let key: Buffer;
  try {
    key = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MfaError(`cannot read the device key ${path}`, ErrorCode.OutboxKeyInvalid, { cause: e });
  }
  if (key.length !== DEVICE_KEY_BYTES) {
    // Never replace it silently: queued entries were sealed with it, and a new key would
    // make them unreadable without anyone noticing why.
    throw new MfaError(
      `device key ${path} has ${key.length} bytes, expected ${DEVICE_KEY_BYTES}`,
      ErrorCode.OutboxKeyInvalid,
    );
  }
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    log.warn({ path, mode: mode.toString(8) }, 'device key was readable by others; setting mode 0600');
    await chmod(path, 0o600);
  }
  return key;
}

/**
 * Reads `<dataDir>/device.key`, creating it on first start: 32 random bytes written to a temp
 * file (mode 0600), fsynced, then linked into place. `link` fails if another process won the
 * race, so two starters never end up with different keys; the directory is fsynced so the
 * name survives a power cut.
 */
export async function loadOrCreateDeviceKey(dataDir: string): Promise<Buffer> {
  const path = join(dataDir, DEVICE_KEY_FILE);
  const existing = await readKey(path);
  if (existing) return existing;

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const tmp = join(dataDir, `.${DEVICE_KEY_FILE}.${process.pid}.${randomBytes(6).toString('hex')}`);
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(randomBytes(DEVICE_KEY_BYTES));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await link(tmp, path);
      log.info({ path }, 'created a new device key');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    await unlink(tmp);
    await fsyncDir(dataDir);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    if (e instanceof MfaError) throw e;
    throw new MfaError(`cannot create the device key ${path}`, ErrorCode.OutboxKeyInvalid, { cause: e });
  }
  const key = await readKey(path);
  if (!key) throw new MfaError(`device key ${path} vanished after creation`, ErrorCode.OutboxKeyInvalid);
  return key;
}
