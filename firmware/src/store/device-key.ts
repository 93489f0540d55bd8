/**
 * The device key: 32 random bytes in a file outside the data directory (`deviceKeyFile`, default
 * /etc/mfabox/device.key, mode 0600), so a copy of the data directory alone decrypts nothing.
 * Nothing uses the key itself: each use gets its own HKDF-SHA256 subkey with a label, so the
 * outbox cipher, the SIM PIN marker, passcode hashes, token secrets and override codes never share
 * a key, and one leaking says nothing about the others.
 *
 * Releases before this one kept the key at `<dataDir>/device.key`. On start that key is moved to
 * `deviceKeyFile` (the same bytes, so everything sealed with it still opens) and removed from the
 * data directory.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { chmod, link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { syncDir } from '../config/atomic-write.ts';
import { ErrorCode, MfaError } from '../errors.ts';
import { logger } from '../log.ts';

export const DEVICE_KEY_BYTES = 32;
/** Where first boot writes the key and where `start` reads it, unless the config says otherwise. */
export const DEFAULT_DEVICE_KEY_FILE = '/etc/mfabox/device.key';
/** Where releases before the move kept it: inside the data directory. */
export const LEGACY_DEVICE_KEY_FILE = 'device.key';

/**
 * The HKDF info string per use. The passcode label predates this module (auth/passcode.ts used
 * it on the raw key), so codes pending across the upgrade still verify.
 */
export const SUBKEY_INFO = {
  passcode: 'mfabox passcode hmac v1',
  'outbox-text': 'mfabox/outbox-text',
  'sim-pin': 'mfabox/sim-pin',
  'oath-secrets': 'mfabox/oath-secrets',
  'override-codes': 'mfabox/override-codes',
} as const;
export type SubkeyLabel = keyof typeof SUBKEY_INFO;

const log = logger('store:device-key');

/** HKDF-SHA256 (no salt: the key is uniformly random) → 32 bytes for `label`. */
export function deriveSubkey(key: Buffer, label: SubkeyLabel): Buffer {
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), SUBKEY_INFO[label], 32));
}

export class DeviceKey {
  private readonly cache = new Map<SubkeyLabel, Buffer>();

  /** `bytes`: the key file's content (tests: any 32 random bytes). */
  constructor(
    private readonly bytes: Buffer,
    /** Where it was read from, for messages. */
    readonly path = '(in memory)',
  ) {
    if (bytes.length !== DEVICE_KEY_BYTES)
      throw new MfaError(`a device key has ${DEVICE_KEY_BYTES} bytes`, ErrorCode.OutboxKeyInvalid);
  }

  /** The subkey for one use; the same Buffer on every call. */
  subkey(label: SubkeyLabel): Buffer {
    let k = this.cache.get(label);
    if (!k) {
      k = deriveSubkey(this.bytes, label);
      this.cache.set(label, k);
    }
    return k;
  }

  /**
   * The key itself. Only for reading what releases before subkeys wrote with it (outbox texts
   * sealed then) and for the code that derives its own subkeys through deriveSubkey.
   */
  raw(): Buffer {
    return this.bytes;
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
    // Never replace it silently: everything sealed with it would become unreadable unnoticed.
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
 * Writes `bytes` to `path` atomically (temp file 0600, fsync, then link or rename into place,
 * then fsync the directory so the name survives a power cut). `replace` false: `link` fails if
 * another process won the race, so two starters never end up with different keys.
 */
async function writeKey(path: string, bytes: Buffer, replace: boolean): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.device.key.${process.pid}.${randomBytes(6).toString('hex')}`);
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (replace) await rename(tmp, path);
    else {
      try {
        await link(tmp, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      await unlink(tmp);
    }
    await syncDir(dir);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw new MfaError(`cannot write the device key ${path}`, ErrorCode.OutboxKeyInvalid, { cause: e });
  }
}

/**
 * The data directory's key is the one the store's contents were sealed with. A key at the new
 * path that differs was written by first boot and never used by any release: replaced. The
 * legacy file goes only once the new one is durable, so a power cut in between leaves both.
 */
async function moveLegacy(legacy: Buffer, legacyPath: string, at: DeviceKeyLocation): Promise<void> {
  const current = await readKey(at.path);
  if (!current || !current.equals(legacy)) {
    if (current) log.warn({ path: at.path }, 'replacing an unused device key with the one in use');
    await writeKey(at.path, legacy, true);
  }
  await unlink(legacyPath);
  await syncDir(at.dataDir);
  log.info({ from: legacyPath, to: at.path }, 'moved the device key out of the data directory');
}

export interface DeviceKeyLocation {
  /** The key file (config deviceKeyFile). */
  path: string;
  /** The data directory, where releases before the move kept `device.key`. */
  dataDir: string;
}

/**
 * Reads the device key, first moving one left in the data directory by an earlier release, or
 * creates it on a box's first start.
 */
export async function openDeviceKey(at: DeviceKeyLocation): Promise<DeviceKey> {
  const legacyPath = join(at.dataDir, LEGACY_DEVICE_KEY_FILE);
  if (legacyPath !== at.path) {
    const legacy = await readKey(legacyPath);
    if (legacy) {
      try {
        await moveLegacy(legacy, legacyPath, at);
      } catch (e) {
        // Keep serving with the key where it is: refusing to start would take RADIUS down, and
        // a new key would make the store's sealed data unreadable.
        log.error(
          { from: legacyPath, to: at.path, err: (e as Error).message },
          'could not move the device key out of the data directory; still using it there (make the deviceKeyFile directory writable for the service, then restart)',
        );
        return new DeviceKey(legacy, legacyPath);
      }
    }
  }
  const existing = await readKey(at.path);
  if (existing) return new DeviceKey(existing, at.path);
  await writeKey(at.path, randomBytes(DEVICE_KEY_BYTES), false);
  log.info({ path: at.path }, 'created a new device key');
  const key = await readKey(at.path);
  if (!key) throw new MfaError(`device key ${at.path} vanished after creation`, ErrorCode.OutboxKeyInvalid);
  return new DeviceKey(key, at.path);
}
