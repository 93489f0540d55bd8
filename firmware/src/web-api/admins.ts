/**
 * Admin accounts of the web page, in `<dataDir>/admins.json` (mode 0600), passwords hashed with
 * scrypt. The file is re-read for every check, so `mfabox admin reset-password` or the reset
 * button works while the service runs. A failed login counts against the account: after 5 in a
 * row it is locked for a minute, doubling up to 15 minutes (in memory: a restart clears it).
 */
import { randomBytes, randomInt, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { systemClock, type Clock } from '../clock.ts';
import { writeFileAtomic } from '../config/atomic-write.ts';
import { ErrorCode, MfaError } from '../errors.ts';

/** N = 2^15, r = 8: about 32 MiB and 100 ms on a Pi 4 per check; slow for a guesser, fine for a login. */
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;
const KEY_LEN = 32;
export const MIN_PASSWORD_LENGTH = 10;
const LOCK_AFTER = 5;
const LOCK_BASE_MS = 60_000;
const LOCK_MAX_MS = 15 * 60_000;

export const DEMO_ADMIN = { username: 'admin', password: 'demo-admin' } as const;

const accountSchema = z.object({
  username: z.string(),
  /** scrypt$N$r$p$salt(b64)$hash(b64) */
  hash: z.string(),
  mustChange: z.boolean(),
  createdAt: z.string(),
  lastLoginAt: z.string().optional(),
});
/** admins.json; exported so a restored backup's accounts are checked before they are written. */
export const adminsFileSchema = z.object({ version: z.literal(1), admins: z.array(accountSchema) });
const fileSchema = adminsFileSchema;
type Account = z.infer<typeof accountSchema>;

export interface AdminInfo {
  username: string;
  mustChange: boolean;
  createdAt: string;
  lastLoginAt?: string;
}

export type VerifyResult =
  | { ok: true; username: string; mustChange: boolean }
  | { ok: false; reason: 'bad-credentials' }
  | { ok: false; reason: 'locked'; retryAfterSeconds: number };

function scrypt(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((res, rej) =>
    scryptCb(password.normalize('NFC'), salt, KEY_LEN, opts, (e, k) => (e ? rej(e) : res(k))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function checkPassword(password: string, stored: string): Promise<boolean> {
  const [tag, n, r, p, salt, key] = stored.split('$');
  if (tag !== 'scrypt' || salt === undefined || key === undefined) return false;
  const expected = Buffer.from(key, 'base64');
  const got = await scrypt(password, Buffer.from(salt, 'base64'), {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  });
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** 16 characters from a 32-letter alphabet without look-alikes (80 bits), grouped for reading aloud. */
export function generatePassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789AB';
  let s = '';
  for (let i = 0; i < 16; i++) s += alphabet[randomInt(32)];
  return s.match(/.{4}/g)?.join('-') ?? s;
}

export function validateNewPassword(password: unknown, username: string): string {
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH)
    throw new MfaError(
      `a password needs at least ${MIN_PASSWORD_LENGTH} characters`,
      ErrorCode.WebAdminInvalid,
      {
        field: 'password',
      },
    );
  if (password.length > 256)
    throw new MfaError('a password has at most 256 characters', ErrorCode.WebAdminInvalid, {
      field: 'password',
    });
  if (password.toLowerCase() === username.toLowerCase())
    throw new MfaError('the password must not be the user name', ErrorCode.WebAdminInvalid, {
      field: 'password',
    });
  return password;
}

const USERNAME = /^[A-Za-z0-9._-]{1,64}$/;

export function adminsFile(dataDir: string): string {
  return join(dataDir, 'admins.json');
}

export class AdminStore {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly failures = new Map<string, { count: number; lockedUntil: number; locks: number }>();
  /** A hash to check unknown names against, so they take as long as known ones. */
  private dummy: Promise<string> | undefined;

  constructor(
    readonly file: string,
    private readonly clock: Clock = systemClock,
  ) {}

  private async read(): Promise<Account[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const parsed = fileSchema.safeParse(JSON.parse(text));
    if (!parsed.success)
      throw new MfaError(`${this.file} is not a valid admin file`, ErrorCode.WebAdminInvalid);
    return parsed.data.admins;
  }

  private async write(admins: Account[]): Promise<void> {
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file, `${JSON.stringify({ version: 1, admins }, null, 2)}\n`, 0o600);
  }

  /** Read-modify-write under one queue, so two admins saving at once do not undo each other. */
  private update<T>(fn: (admins: Account[]) => T | Promise<T>): Promise<T> {
    const run = this.chain.then(async () => {
      const admins = await this.read();
      const out = await fn(admins);
      await this.write(admins);
      return out;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  async list(): Promise<AdminInfo[]> {
    return (await this.read()).map(({ username, mustChange, createdAt, lastLoginAt }) => ({
      username,
      mustChange,
      createdAt,
      ...(lastLoginAt ? { lastLoginAt } : {}),
    }));
  }

  /**
   * At first start: with no admin file, creates `admin` with a generated password that must be
   * changed at first login, and returns it (the caller prints it once). The demo gets the fixed
   * demo password, no forced change. Undefined when admins exist.
   */
  async ensureFirst(
    opts: { demo?: boolean } = {},
  ): Promise<{ username: string; password: string } | undefined> {
    return this.update(async (admins) => {
      if (admins.length > 0) return undefined;
      const password = opts.demo ? DEMO_ADMIN.password : generatePassword();
      admins.push({
        username: 'admin',
        hash: await hashPassword(password),
        mustChange: !opts.demo,
        createdAt: new Date(this.clock.now()).toISOString(),
      });
      return { username: 'admin', password };
    });
  }

  async verify(username: string, password: string): Promise<VerifyResult> {
    const key = username.toLowerCase();
    const now = this.clock.monotonic();
    const f = this.failures.get(key);
    if (f && f.lockedUntil > now)
      return { ok: false, reason: 'locked', retryAfterSeconds: Math.ceil((f.lockedUntil - now) / 1000) };
    const account = (await this.read()).find((a) => a.username.toLowerCase() === key);
    this.dummy ??= hashPassword(randomBytes(16).toString('hex'));
    const good = await checkPassword(password, account?.hash ?? (await this.dummy));
    if (!account || !good) {
      this.fail(key, now);
      return { ok: false, reason: 'bad-credentials' };
    }
    this.failures.delete(key);
    await this.update((admins) => {
      const a = admins.find((x) => x.username === account.username);
      if (a) a.lastLoginAt = new Date(this.clock.now()).toISOString();
    });
    return { ok: true, username: account.username, mustChange: account.mustChange };
  }

  private fail(key: string, now: number): void {
    if (this.failures.size > 10_000) this.failures.clear();
    const f = this.failures.get(key) ?? { count: 0, lockedUntil: 0, locks: 0 };
    f.count += 1;
    if (f.count >= LOCK_AFTER) {
      f.lockedUntil = now + Math.min(LOCK_MAX_MS, LOCK_BASE_MS * 2 ** f.locks);
      f.locks += 1;
      f.count = 0;
    }
    this.failures.set(key, f);
  }

  async mustChange(username: string): Promise<boolean> {
    return (await this.read()).find((a) => a.username === username)?.mustChange ?? true;
  }

  async exists(username: string): Promise<boolean> {
    return (await this.read()).some((a) => a.username === username);
  }

  /** Sets a password; `mustChange` forces another change at the next login (resets, new accounts). */
  async setPassword(username: string, password: string, opts: { mustChange?: boolean } = {}): Promise<void> {
    validateNewPassword(password, username);
    const hash = await hashPassword(password);
    await this.update((admins) => {
      const a = admins.find((x) => x.username === username);
      if (!a)
        throw new MfaError(`no admin named ${username}`, ErrorCode.WebAdminInvalid, { field: 'username' });
      a.hash = hash;
      a.mustChange = opts.mustChange ?? false;
    });
    this.failures.delete(username.toLowerCase());
  }

  /** A new admin must change the password the creator chose at first login. */
  async add(username: string, password: string): Promise<void> {
    if (!USERNAME.test(username))
      throw new MfaError(
        'a user name is 1–64 letters, digits, dot, dash or underscore',
        ErrorCode.WebAdminInvalid,
        {
          field: 'username',
        },
      );
    validateNewPassword(password, username);
    const hash = await hashPassword(password);
    await this.update((admins) => {
      if (admins.some((a) => a.username.toLowerCase() === username.toLowerCase()))
        throw new MfaError(`an admin named ${username} exists`, ErrorCode.WebAdminInvalid, {
          field: 'username',
        });
      admins.push({ username, hash, mustChange: true, createdAt: new Date(this.clock.now()).toISOString() });
    });
  }

  async remove(username: string): Promise<void> {
    await this.update((admins) => {
      const i = admins.findIndex((a) => a.username === username);
      if (i < 0)
        throw new MfaError(`no admin named ${username}`, ErrorCode.WebAdminInvalid, { field: 'username' });
      if (admins.length === 1)
        throw new MfaError('the last admin cannot be removed', ErrorCode.WebAdminInvalid, {
          field: 'username',
        });
      admins.splice(i, 1);
    });
  }
}

/**
 * Resets an admin's password to a generated one that must be changed at the next login, and
 * returns it for the caller to show (console, or the appliance's reset button). Creates the
 * account when it does not exist, so a box whose admin file was lost can be recovered.
 */
export async function resetAdminPassword(opts: {
  dataDir: string;
  username?: string;
}): Promise<{ username: string; password: string }> {
  const username = opts.username ?? 'admin';
  if (!USERNAME.test(username))
    throw new MfaError(
      'a user name is 1–64 letters, digits, dot, dash or underscore',
      ErrorCode.WebAdminInvalid,
      {
        field: 'username',
      },
    );
  const store = new AdminStore(adminsFile(opts.dataDir));
  const password = generatePassword();
  if (await store.exists(username)) await store.setPassword(username, password, { mustChange: true });
  else await store.add(username, password);
  return { username, password };
}
