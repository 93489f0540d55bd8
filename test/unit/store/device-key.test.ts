/**
 * The device key outside the data directory (issue 9 §3): the key file, its HKDF subkeys, the
 * move of an earlier release's key out of dataDir, and that a data directory copied without the
 * key decrypts nothing.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cryptoRandom, systemClock } from '../../../firmware/src/clock.ts';
import { deriveAuthKeys } from '../../../firmware/src/auth/keys.ts';
import { TokenStore } from '../../../firmware/src/auth/tokens.ts';
import { derivePasscodeKey } from '../../../firmware/src/auth/passcode.ts';
import { openOutbox } from '../../../firmware/src/dispatch/outbox.ts';
import { ErrorCode } from '../../../firmware/src/errors.ts';
import { SUBKEY_INFO, openDeviceKey, type SubkeyLabel } from '../../../firmware/src/store/device-key.ts';
import { openKeyFor } from '../../../firmware/src/store/open-key.ts';
import { openStore } from '../../../firmware/src/store/store.ts';
import { FakeSender, health } from '../dispatch/fakes.ts';

const TOTP = { type: 'totp', digits: 6, algorithm: 'SHA1', period: 30 } as const;

describe('device key file', () => {
  let dir: string;
  let dataDir: string;
  let keyPath: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-key-'));
    dataDir = join(dir, 'var-lib-mfabox');
    keyPath = join(dir, 'etc-mfabox', 'device.key');
    await mkdir(dataDir);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('creates 32 random bytes at deviceKeyFile, mode 0600, and nothing in the data directory', async () => {
    const k1 = await openDeviceKey({ path: keyPath, dataDir });
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
    expect(await readFile(keyPath)).toHaveLength(32);
    expect(await readdir(dataDir)).toEqual([]);
    expect(await readdir(join(dir, 'etc-mfabox'))).toEqual(['device.key']); // no temp files left
    const k2 = await openDeviceKey({ path: keyPath, dataDir });
    expect(k2.raw().equals(k1.raw())).toBe(true);
    const other = await openDeviceKey({ path: join(dir, 'other.key'), dataDir });
    expect(other.raw().equals(k1.raw())).toBe(false);
  });

  it('gives every concurrent starter the same key', async () => {
    const keys = await Promise.all(
      Array.from({ length: 8 }, () => openDeviceKey({ path: keyPath, dataDir })),
    );
    for (const k of keys) expect(k.raw().equals(keys[0]!.raw())).toBe(true);
  });

  it('refuses a key file of the wrong size instead of replacing it, and tightens a readable one', async () => {
    await mkdir(join(dir, 'etc-mfabox'));
    await writeFile(keyPath, Buffer.alloc(16), { mode: 0o600 });
    await expect(openDeviceKey({ path: keyPath, dataDir })).rejects.toMatchObject({
      code: ErrorCode.OutboxKeyInvalid,
    });
    await writeFile(keyPath, Buffer.alloc(32, 7), { mode: 0o644 });
    expect((await openDeviceKey({ path: keyPath, dataDir })).raw()).toEqual(Buffer.alloc(32, 7));
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
  });

  it('derives a distinct 32-byte subkey per label, never the key itself, stable across restarts', async () => {
    const k = await openDeviceKey({ path: keyPath, dataDir });
    const labels = Object.keys(SUBKEY_INFO) as SubkeyLabel[];
    const subs = labels.map((l) => k.subkey(l).toString('hex'));
    expect(new Set(subs).size).toBe(labels.length);
    for (const s of subs) {
      expect(s).toHaveLength(64);
      expect(s).not.toBe(k.raw().toString('hex'));
    }
    const again = await openDeviceKey({ path: keyPath, dataDir });
    expect(labels.map((l) => again.subkey(l).toString('hex'))).toEqual(subs);
    // The passcode label is the one auth/passcode.ts used before subkeys: pending codes survive.
    const old = Buffer.from(hkdfSync('sha256', k.raw(), Buffer.alloc(0), 'mfabox passcode hmac v1', 32));
    expect(k.subkey('passcode').equals(old)).toBe(true);
    expect(derivePasscodeKey(k.raw()).equals(old)).toBe(true);
    expect(deriveAuthKeys(k.raw()).tokenSecrets.equals(k.subkey('oath-secrets'))).toBe(true);
    expect(deriveAuthKeys(k.raw()).overrideCodes.equals(k.subkey('override-codes'))).toBe(true);
  });

  it('moves an earlier release key out of the data directory, keeping its bytes', async () => {
    const old = randomBytes(32);
    await writeFile(join(dataDir, 'device.key'), old, { mode: 0o600 });
    const k = await openDeviceKey({ path: keyPath, dataDir });
    expect(k.raw().equals(old)).toBe(true);
    expect(await readdir(dataDir)).toEqual([]);
    expect((await readFile(keyPath)).equals(old)).toBe(true);
    expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
  });

  it('prefers the key in use over an unused one that first boot wrote at the new path', async () => {
    const inUse = randomBytes(32);
    await writeFile(join(dataDir, 'device.key'), inUse, { mode: 0o600 });
    await mkdir(join(dir, 'etc-mfabox'));
    await writeFile(keyPath, randomBytes(32), { mode: 0o600 });
    const k = await openDeviceKey({ path: keyPath, dataDir });
    expect(k.raw().equals(inUse)).toBe(true);
    expect((await readFile(keyPath)).equals(inUse)).toBe(true);
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('keeps using the old key in place when the new path cannot be written, instead of failing to start', async () => {
    const old = randomBytes(32);
    await writeFile(join(dataDir, 'device.key'), old, { mode: 0o600 });
    await writeFile(join(dir, 'a-file'), 'x');
    const k = await openDeviceKey({ path: join(dir, 'a-file', 'device.key'), dataDir });
    expect(k.raw().equals(old)).toBe(true);
    expect(await readdir(dataDir)).toEqual(['device.key']);
  });

  it('a data directory copied without the key decrypts no token seed and no queued SMS text', async () => {
    const key = await openDeviceKey({ path: keyPath, dataDir });
    const store = await openStore(join(dataDir, 'db'));
    const tokens = new TokenStore(store, systemClock, cryptoRandom, deriveAuthKeys(key.raw()).tokenSecrets);
    await tokens.enrol('alice', TOTP, 'test');
    const noModem = new FakeSender();
    noModem.modems = [health('m1', 'searching')];
    const outbox = await openOutbox({ store, sender: noModem, deviceKey: key.raw() });
    await outbox.enqueue({
      challengeId: 'c1',
      to: '+15550000001',
      text: 'Your MFA Box passcode is 424242.',
      expiresAt: Date.now() + 300_000,
    });
    await outbox.close(100);
    await store.close();

    const copy = join(dir, 'stolen');
    await cp(dataDir, copy, { recursive: true });
    const dump = Buffer.concat(
      await Promise.all(
        (await readdir(join(copy, 'db'))).map((f) =>
          readFile(join(copy, 'db', f)).catch(() => Buffer.alloc(0)),
        ),
      ),
    );
    expect(dump.includes(Buffer.from('424242'))).toBe(false);
    expect(dump.includes(key.raw())).toBe(false);
    expect(await readdir(copy)).not.toContain('device.key');

    // The thief's box: the copied data, any key but the original.
    const thief = await openDeviceKey({ path: join(dir, 'thief.key'), dataDir: copy });
    const stolen = await openStore(join(copy, 'db'));
    try {
      const theirs = new TokenStore(
        stolen,
        systemClock,
        cryptoRandom,
        deriveAuthKeys(thief.raw()).tokenSecrets,
      );
      await expect(theirs.verify('alice', '000000')).rejects.toMatchObject({
        code: ErrorCode.AuthSecretUnreadable,
      });
    } finally {
      await stolen.close();
    }
    // And with the right key the same copy opens: the test above failed for the key alone.
    const owner = await openStore(join(copy, 'db'));
    try {
      const mine = new TokenStore(owner, systemClock, cryptoRandom, deriveAuthKeys(key.raw()).tokenSecrets);
      expect(await mine.verify('alice', '000000')).toMatchObject({ ok: false, reason: 'wrong' });
    } finally {
      await owner.close();
    }
  });

  it('refuses the real /etc/mfabox/device.key under a test runner', () => {
    expect(() => openKeyFor({ deviceKeyFile: '/etc/mfabox/device.key', dataDir })).toThrow(/deviceKeyFile/);
  });
});
