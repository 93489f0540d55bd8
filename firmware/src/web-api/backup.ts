/**
 * The backup file (as Pi-hole's teleporter): the config file, the device key, the admin accounts,
 * the web certificate and the uploaded directory CA, as one JSON file encrypted with a passphrase the admin chooses. The
 * config holds every secret (RADIUS secrets, the bind password, SIM PINs) and the device key
 * opens the outbox, so nothing of it is ever written in clear: scrypt turns the passphrase into
 * an AES-256-GCM key; the header (format, version, KDF settings) is authenticated too, so a
 * tampered file fails like a wrong passphrase.
 *
 *   {"format":"mfabox-backup","version":1,"createdAt":…,"kdf":{"name":"scrypt","N":…,"r":…,"p":…,
 *    "salt":b64},"cipher":"aes-256-gcm","iv":b64,"tag":b64,"data":b64}
 */
import {
  createCipheriv,
  createDecipheriv,
  randomBytes,
  scrypt as scryptCb,
  type ScryptOptions,
} from 'node:crypto';
import { z } from 'zod';
import { ErrorCode, MfaError } from '../errors.ts';

export const BACKUP_FORMAT = 'mfabox-backup' as const;
export const MIN_PASSPHRASE_LENGTH = 12;
/** A backup is small (a config and a few keys); anything much larger is not one. */
export const MAX_BACKUP_BYTES = 2 * 1024 * 1024;

/** N = 2^15, r = 8: about 100 ms on a Pi 4, once per backup or restore. */
const KDF = { N: 1 << 15, r: 8, p: 1 } as const;
const MAXMEM = 64 * 1024 * 1024;

export const backupContentsSchema = z.strictObject({
  createdAt: z.string(),
  firmware: z.string(),
  /** The config file's JSON as stored, secrets included. */
  config: z.record(z.string(), z.unknown()),
  /** base64 of the 32-byte device key. */
  deviceKey: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'expected 32 bytes in base64'),
  /** admins.json as stored (scrypt hashes, never passwords). */
  admins: z.unknown().optional(),
  /** The web certificate and key, when the box made or was given its own. */
  tls: z.strictObject({ cert: z.string(), key: z.string() }).optional(),
  /** `<dataDir>/directory-ca.pem`, the CA bundle the admin uploaded for the DCs' certificates. */
  directoryCa: z
    .string()
    .max(256 * 1024)
    .optional(),
});
export type BackupContents = z.infer<typeof backupContentsSchema>;

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);
const envelopeSchema = z.strictObject({
  format: z.literal(BACKUP_FORMAT),
  version: z.literal(1),
  createdAt: z.string(),
  kdf: z.strictObject({
    name: z.literal('scrypt'),
    N: z
      .number()
      .int()
      .min(1 << 14)
      .max(1 << 20),
    r: z.number().int().min(1).max(32),
    p: z.number().int().min(1).max(4),
    salt: b64,
  }),
  cipher: z.literal('aes-256-gcm'),
  iv: b64,
  tag: b64,
  data: b64,
});
type Envelope = z.infer<typeof envelopeSchema>;

function deriveKey(passphrase: string, salt: Buffer, o: ScryptOptions): Promise<Buffer> {
  return new Promise((res, rej) =>
    scryptCb(passphrase.normalize('NFC'), salt, 32, { ...o, maxmem: MAXMEM }, (e, k) =>
      e ? rej(e) : res(k),
    ),
  );
}

/** What the GCM tag covers besides the data: every header field, in a fixed order. */
function aad(e: Omit<Envelope, 'iv' | 'tag' | 'data'>): Buffer {
  return Buffer.from(JSON.stringify([e.format, e.version, e.createdAt, e.kdf, e.cipher]));
}

export function checkPassphrase(passphrase: unknown): string {
  if (typeof passphrase !== 'string' || passphrase.length < MIN_PASSPHRASE_LENGTH)
    throw new MfaError(
      `a backup passphrase needs at least ${MIN_PASSPHRASE_LENGTH} characters`,
      ErrorCode.BackupInvalid,
      { field: 'passphrase' },
    );
  if (passphrase.length > 1024)
    throw new MfaError('a backup passphrase has at most 1024 characters', ErrorCode.BackupInvalid, {
      field: 'passphrase',
    });
  return passphrase;
}

export async function sealBackup(contents: BackupContents, passphrase: string): Promise<string> {
  checkPassphrase(passphrase);
  const salt = randomBytes(16);
  const head = {
    format: BACKUP_FORMAT,
    version: 1 as const,
    createdAt: contents.createdAt,
    kdf: { name: 'scrypt' as const, ...KDF, salt: salt.toString('base64') },
    cipher: 'aes-256-gcm' as const,
  };
  const key = await deriveKey(passphrase, salt, KDF);
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad(head));
  const data = Buffer.concat([c.update(JSON.stringify(contents), 'utf8'), c.final()]);
  const env: Envelope = {
    ...head,
    iv: iv.toString('base64'),
    tag: c.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  };
  return `${JSON.stringify(env)}\n`;
}

const invalid = (why: string): MfaError =>
  new MfaError(`this is not a usable MFA Box backup: ${why}`, ErrorCode.BackupInvalid, { field: 'file' });

/** Opens and checks a backup file; throws BackupInvalid or BackupWrongPassphrase, never half-read contents. */
export async function openBackup(text: string, passphrase: string): Promise<BackupContents> {
  if (text.length > MAX_BACKUP_BYTES) throw invalid('the file is too large');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw invalid('the file is not JSON (was it changed, or is it another file?)');
  }
  const env = envelopeSchema.safeParse(json);
  if (!env.success) {
    const first = env.error.issues[0];
    throw invalid(
      first?.path[0] === 'format' || first?.path[0] === 'version'
        ? 'the file is not an mfabox-backup, version 1'
        : `the header is damaged (${first?.path.join('.') ?? ''}: ${first?.message ?? ''})`,
    );
  }
  const e = env.data;
  const iv = Buffer.from(e.iv, 'base64');
  const tag = Buffer.from(e.tag, 'base64');
  if (iv.length !== 12 || tag.length !== 16) throw invalid('the header is damaged (iv or tag)');
  const key = await deriveKey(passphrase, Buffer.from(e.kdf.salt, 'base64'), e.kdf);
  let plain: string;
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAAD(aad(e));
    d.setAuthTag(tag);
    plain = Buffer.concat([d.update(Buffer.from(e.data, 'base64')), d.final()]).toString('utf8');
  } catch {
    throw new MfaError(
      'the passphrase is wrong, or the backup file was altered',
      ErrorCode.BackupWrongPassphrase,
      { field: 'passphrase' },
    );
  }
  let inner: unknown;
  try {
    inner = JSON.parse(plain);
  } catch {
    throw invalid('the decrypted contents are not JSON');
  }
  const contents = backupContentsSchema.safeParse(inner);
  if (!contents.success) {
    const first = contents.error.issues[0];
    throw invalid(`${first?.path.join('.') ?? ''}: ${first?.message ?? 'unexpected contents'}`);
  }
  return contents.data;
}
