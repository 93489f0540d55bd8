import { mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../firmware/src/errors.ts';
import { serialTransport, stableNameFor, waitForPath } from '../../../firmware/src/modem/transport.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mfabox-transport-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('transport helpers', () => {
  it('waitForPath polls until a re-enumerated port reappears, or gives up', async () => {
    const port = join(dir, 'ttyUSB2');
    setTimeout(() => void writeFile(port, ''), 80);
    expect(await waitForPath(port, 2000, 20)).toBe(true);
    await unlink(port);
    const started = performance.now();
    expect(await waitForPath(port, 100, 20)).toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
  });

  it('stableNameFor suggests the by-id name of a ttyUSB path', async () => {
    const byId = join(dir, 'by-id');
    await mkdir(byId);
    const tty = join(dir, 'ttyUSB2');
    await writeFile(tty, '');
    await writeFile(join(dir, 'ttyUSB3'), '');
    await symlink(join(dir, 'ttyUSB3'), join(byId, 'usb-Other-if00-port0'));
    await symlink(tty, join(byId, 'usb-Quectel_EC25-if02-port0'));
    expect(stableNameFor(tty, byId)).toBe(join(byId, 'usb-Quectel_EC25-if02-port0'));
    expect(stableNameFor(join(byId, 'usb-Other-if00-port0'), byId)).toBe(join(byId, 'usb-Other-if00-port0'));
    expect(stableNameFor(join(dir, 'missing'), byId)).toBeUndefined();
  });

  it('opening a missing port fails with ModemPortUnavailable; writing a closed one with ModemClosed', async () => {
    const t = serialTransport({ path: join(dir, 'nope') });
    await expect(t.open()).rejects.toMatchObject({
      code: ErrorCode.ModemPortUnavailable,
      flags: { disconnected: true },
    });
    expect(t.isOpen).toBe(false);
    expect(t.path).toBe(join(dir, 'nope'));
    await expect(t.write('AT\r')).rejects.toMatchObject({ code: ErrorCode.ModemClosed });
    await t.close();
  });
});
