/**
 * `mfabox warm` (release/warm.ts): the trial start's config moves off everything the running
 * service owns; the steps write the code cache once, never twice, and only from a process that
 * did not load the schema. (The real trial start and its files: release-flash-firstboot.test.ts.)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../firmware/src/config/load.ts';
import type { Config } from '../../../firmware/src/config/schema.ts';
import {
  trialConfig,
  warm,
  type CodeCacheHandle,
  type WarmDeps,
} from '../../../firmware/src/release/warm.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mfabox-warm-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const boxConfig = (web: Record<string, unknown> = {}): Config =>
  parseConfig({
    dataDir: join(dir, 'live'),
    deviceKeyFile: join(dir, 'device.key'),
    radius: {
      listen: [
        { address: '0.0.0.0', port: 1812 },
        { address: '::', port: 1812 },
      ],
      clients: [{ name: 'ns', address: '10.0.0.1', secret: 'a-long-enough-shared-secret' }],
    },
    directory: {
      kind: 'ldap',
      urls: ['ldaps://dc1.corp.example:636'],
      baseDn: 'DC=corp,DC=example',
      bindDn: 'CN=svc,DC=corp,DC=example',
      bindPassword: 'bind-password',
      group: 'VPN MFA',
    },
    modems: [{ name: 'usb0', path: '/dev/mfabox-modem0' }],
    syslog: [{ url: 'udp://192.0.2.5:514' }],
    web,
  });

describe('trialConfig', () => {
  it('runs on its own data directory and key, loopback ephemeral ports, no modem, directory, syslog', () => {
    const c = boxConfig();
    const t = trialConfig(c, join(dir, 'trial'));
    expect(t.dataDir).toBe(join(dir, 'trial'));
    expect(t.deviceKeyFile).toBe(join(dir, 'trial', 'device.key'));
    expect(t.radius.listen).toEqual([{ address: '127.0.0.1', port: 0 }]);
    expect(t.radius.accountingPort).toBe(0);
    expect(t.radius.clients).toEqual(c.radius.clients);
    expect(t.modems).toEqual([]);
    expect(t.syslog).toEqual([]);
    expect(t.directory).toMatchObject({ kind: 'none', syncIntervalMinutes: 0, group: 'VPN MFA' });
    expect(t.web).toMatchObject({ address: '127.0.0.1', port: 0, redirectPort: 0, localPort: 0 });
    // No certificate yet: plain HTTP rather than making a self-signed one.
    expect(t.web.tls).toBe(false);
    // The box's config itself is unchanged.
    expect(c.radius.listen[0]).toEqual({ address: '0.0.0.0', port: 1812 });
    expect(c.modems).toHaveLength(1);
  });

  it("uses the box's own certificate when it has one", () => {
    mkdirSync(join(dir, 'live', 'web-tls'), { recursive: true });
    writeFileSync(join(dir, 'live', 'web-tls', 'cert.pem'), 'x');
    writeFileSync(join(dir, 'live', 'web-tls', 'key.pem'), 'x');
    const t = trialConfig(boxConfig(), join(dir, 'trial'));
    expect(t.web).toMatchObject({
      tls: true,
      certFile: join(dir, 'live', 'web-tls', 'cert.pem'),
      keyFile: join(dir, 'live', 'web-tls', 'key.pem'),
    });
    expect(trialConfig(boxConfig({ tls: false, port: 8080 }), join(dir, 't2')).web.tls).toBe(false);
  });
});

function deps(
  state: CodeCacheHandle['state'],
  source: 'cache' | 'validated',
  opts: { isAgain?: boolean; writes?: boolean } = {},
): WarmDeps & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    config: () => Promise.resolve({ config: boxConfig(), source }),
    code: {
      state,
      file: '/var/cache/mfabox/mfabox-code-x.v8',
      write: () => {
        events.push('write');
        return Promise.resolve(opts.writes ?? true);
      },
    },
    trialStart: async (config, beforeStop) => {
      events.push(`start ${config.radius.listen[0]?.address}:${config.radius.listen[0]?.port}`);
      await beforeStop();
      events.push('stop');
    },
    again: () => {
      events.push('again');
      return 0;
    },
    isAgain: opts.isAgain ?? false,
    say: (l) => events.push(`say ${l}`),
  };
}

describe('warm', () => {
  it('does nothing when the code cache was accepted and the config came from its cache', async () => {
    const d = deps('accepted', 'cache');
    expect(await warm(d)).toBe(0);
    expect(d.events).toEqual(['say already warm: nothing to do']);
  });

  it('with a cache in use, only validates (the config is cached by then)', async () => {
    const d = deps('accepted', 'validated');
    expect(await warm(d)).toBe(0);
    expect(d.events).toEqual(['say config validated and cached; code cache already there']);
  });

  it('runs again in a fresh process after validating, so the schema is not in the code cache', async () => {
    const d = deps('none', 'validated');
    expect(await warm(d)).toBe(0);
    expect(d.events).toEqual(['again']);
  });

  it('writes the code cache during a trial start on loopback, before it stops', async () => {
    for (const d of [
      deps('none', 'cache'),
      deps('rejected', 'cache'),
      deps('none', 'validated', { isAgain: true }),
    ]) {
      expect(await warm(d)).toBe(0);
      expect(d.events.slice(0, 3)).toEqual(['start 127.0.0.1:0', 'write', 'stop']);
      expect(d.events[3]).toMatch(/code cache written \(\/var\/cache\/mfabox\/mfabox-code-x\.v8\)$/);
    }
  });

  it('fails (status 1) when the code cache could not be written', async () => {
    const d = deps('none', 'cache', { writes: false });
    expect(await warm(d)).toBe(1);
    expect(d.events).toEqual(['start 127.0.0.1:0', 'write', 'stop']);
  });
});
