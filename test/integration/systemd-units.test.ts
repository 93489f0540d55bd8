/**
 * The repo's systemd units, checked by Debian's systemd-analyze (no running systemd needed):
 * verify passes on every unit, the service's sandbox scores "OK" or better (printed), and the
 * sandbox keeps the properties issue 9 §5 and issue 11 ask for.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  prepareVerifyRoot,
  securityScore,
  systemdAnalyzeAvailable,
  verifyUnits,
} from '../helpers/systemd.ts';

const scripts = resolve(import.meta.dirname, '../../scripts');
const units = readdirSync(scripts).filter((f) => /\.(service|timer|path)$/.test(f));
const unit = readFileSync(join(scripts, 'mfabox.service'), 'utf8');
const lines = (key: string): string[] =>
  [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => (m[1] ?? '').trim());

describe('systemd units', () => {
  it.skipIf(!systemdAnalyzeAvailable)('systemd-analyze verify passes on every unit', async () => {
    const root = await mkdtemp(join(tmpdir(), 'mfabox-units-'));
    try {
      prepareVerifyRoot(
        root,
        units.map((u) => join(scripts, u)),
        true,
      );
      const r = verifyUnits(root, units);
      expect(r.problems, r.problems.join('\n')).toEqual([]);
      expect(r.status).toBe(0);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it.skipIf(!systemdAnalyzeAvailable)(
    'mfabox.service scores OK or better in systemd-analyze security',
    () => {
      const s = securityScore(join(scripts, 'mfabox.service'));
      console.log(`systemd-analyze security --offline=true mfabox.service: ${s.exposure} ${s.level}`);
      expect(['PERFECT', 'SAFE', 'OK']).toContain(s.level);
      expect(s.exposure).toBeLessThanOrEqual(2.5);
    },
  );

  it('allows USB and UART modems and nothing else in /dev', () => {
    expect(lines('DevicePolicy')).toEqual(['closed']);
    expect(lines('DeviceAllow').sort()).toEqual(
      ['/dev/mfabox-button r', '/dev/ttyS0 rw', 'char-ttyACM rw', 'char-ttyAMA rw', 'char-ttyUSB rw'].sort(),
    );
  });

  it('has no capability unless a drop-in grants one, and the process sandbox of issue 9 §5', () => {
    expect(lines('CapabilityBoundingSet')).toEqual(['']);
    expect(lines('AmbientCapabilities')).toEqual(['']);
    expect(lines('ProtectProc')).toEqual(['invisible']);
    expect(lines('ProcSubset')).toEqual(['pid']);
    expect(lines('RemoveIPC')).toEqual(['yes']);
    expect(lines('StartLimitIntervalSec')).toEqual(['0']);
    expect(lines('SystemCallFilter')).toContain('@system-service');
    expect(lines('SystemCallFilter')).toContain('~@privileged @resources');
    expect(lines('ProtectSystem')).toEqual(['strict']);
  });

  it('lets the service write its four LEDs and no other sysfs path', () => {
    const rw = lines('ReadWritePaths').flatMap((l) => l.split(/\s+/));
    const sys = rw.filter((p) => p.replace(/^-/, '').startsWith('/sys'));
    expect(sys.sort()).toEqual(
      ['app', 'fault', 'modem', 'radius'].map((n) => `-/sys/class/leds/mfabox-${n}`).sort(),
    );
    expect(lines('ProtectKernelTunables')).toEqual(['yes']);
    // ... and the udev rule gives group mfabox write access to exactly brightness and trigger there
    const rules = readFileSync(join(scripts, '../hardware/udev/90-mfabox-leds.rules'), 'utf8');
    expect(rules).toMatch(
      /SUBSYSTEM=="leds", KERNEL=="mfabox-\*".*chgrp mfabox \/sys%p\/brightness \/sys%p\/trigger"/,
    );
    expect(rules).not.toMatch(/chmod [0-7]*[2367] /);
  });

  it('runs under the watchdog with notify access for its systemd-notify child', () => {
    expect(lines('Type')).toEqual(['notify']);
    expect(lines('NotifyAccess')).toEqual(['all']);
    expect(Number(lines('WatchdogSec')[0])).toBeGreaterThan(0);
  });
});
