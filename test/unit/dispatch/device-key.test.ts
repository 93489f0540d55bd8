import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadOrCreateDeviceKey } from '../../../firmware/src/dispatch/device-key.ts';
import { ErrorCode } from '../../../firmware/src/errors.ts';

describe('loadOrCreateDeviceKey', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-key-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('creates 32 random bytes with mode 0600 and returns the same key afterwards', async () => {
    const data = join(dir, 'data');
    const k1 = await loadOrCreateDeviceKey(data);
    expect(k1).toHaveLength(32);
    expect((await stat(join(data, 'device.key'))).mode & 0o777).toBe(0o600);
    expect(await loadOrCreateDeviceKey(data)).toEqual(k1);
    expect(await readdir(data)).toEqual(['device.key']); // no temp files left behind
    const other = await loadOrCreateDeviceKey(join(dir, 'other'));
    expect(other.equals(k1)).toBe(false);
  });

  it('gives every concurrent starter the same key', async () => {
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateDeviceKey(dir)));
    for (const k of keys) expect(k.equals(keys[0] as Buffer)).toBe(true);
  });

  it('refuses a key file of the wrong size instead of replacing it', async () => {
    await writeFile(join(dir, 'device.key'), Buffer.alloc(16), { mode: 0o600 });
    await expect(loadOrCreateDeviceKey(dir)).rejects.toMatchObject({ code: ErrorCode.OutboxKeyInvalid });
  });

  it('tightens a key file readable by others to 0600', async () => {
    await writeFile(join(dir, 'device.key'), Buffer.alloc(32, 7), { mode: 0o644 });
    const k = await loadOrCreateDeviceKey(dir);
    expect(k).toEqual(Buffer.alloc(32, 7));
    expect((await stat(join(dir, 'device.key'))).mode & 0o777).toBe(0o600);
  });
});
