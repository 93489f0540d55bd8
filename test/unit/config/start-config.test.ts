import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../../firmware/src/config/config-file.ts';
import { parseConfig } from '../../../firmware/src/config/load.ts';
import type { Config } from '../../../firmware/src/config/schema.ts';
import { applyShape, shapeOf, startConfig } from '../../../firmware/src/config/start-config.ts';
import { ErrorCode, isMfaError } from '../../../firmware/src/errors.ts';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('\n## Configuration\n'));
const readmeExample = JSON.parse(/```json\n([\s\S]*?)```/.exec(section)?.[1] ?? '{}') as JsonObject;

const NAS_SECRET = 'nas-shared-secret-0123456789';
const BIND_PASSWORD = 'bind-Pa55word-not-in-cache';
const config = (): JsonObject => ({
  dataDir: '/var/lib/mfabox',
  radius: {
    listen: [{ address: '::', port: 1812 }],
    clients: [
      { name: 'ns', address: '10.0.0.0/24', secret: NAS_SECRET },
      { name: 'lab', address: '10.9.9.9', secret: 'short', allowWeakSecret: true },
    ],
  },
  directory: {
    kind: 'ldap',
    urls: ['ldaps://dc1.corp.example'],
    baseDn: 'DC=corp,DC=example',
    bindDn: 'CN=svc,DC=corp,DC=example',
    bindPassword: BIND_PASSWORD,
    group: 'VPN MFA',
  },
  // Unknown keys are dropped by validation: the cache records the key list, not the values.
  unknownKey: { nested: 'dropped' },
  modems: [{ name: 'm1', path: '/dev/mfabox-modem0', pin: '1234' }],
});

describe('the validation shape (what validation added to the file)', () => {
  for (const [name, input] of [
    ['an empty config', {}],
    ['a config with secrets, arrays and an unknown key', config()],
    ["README's example", readmeExample],
  ] as const) {
    it(`rebuilds exactly what validation returns, key order included: ${name}`, () => {
      const validated = parseConfig(structuredClone(input));
      const shape = shapeOf(input, validated);
      expect(shape).toBeDefined();
      const rebuilt = applyShape(JSON.parse(JSON.stringify(input)), shape!);
      expect(JSON.stringify(rebuilt)).toBe(JSON.stringify(validated));
      expect(rebuilt).toStrictEqual(validated);
    });
  }

  it('refuses a value validation changed (it would have to be stored) and an array of another length', () => {
    expect(shapeOf({ a: ' x ' }, { a: 'x' })).toBeUndefined();
    expect(shapeOf({ a: [1, 2] }, { a: [1] })).toBeUndefined();
    expect(shapeOf({ a: 1 }, { a: 1, b: 2 })).toStrictEqual({
      o: [
        ['a', 1],
        ['b', { v: 2 }],
      ],
    });
  });

  it('refuses a shape that does not fit the file', () => {
    expect(() => applyShape([], { o: [] })).toThrow(/object/);
    expect(() => applyShape({}, { a: [] })).toThrow(/array/);
  });
});

describe('startConfig', () => {
  let dir: string;
  let validations: number;
  const validate = (input: unknown): Config => {
    validations++;
    return parseConfig(input);
  };
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-start-config-'));
    validations = 0;
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));
  const opts = (buildId = 'build-a') => ({ cacheDir: dir, buildId, validate });

  it('validates once per file content and build, then rebuilds the same config without validating', async () => {
    const first = await startConfig(config(), opts());
    expect(validations).toBe(1);
    const second = await startConfig(config(), opts());
    expect(validations).toBe(1);
    expect(JSON.stringify(second)).toBe(JSON.stringify(first));
    expect(second).toStrictEqual(parseConfig(config()));
    expect(second.policy.mfaGroup).toBe('VPN MFA');
    expect(second.radius.clients[0]?.requireMessageAuthenticator).toBe('auto');
  });

  it('keeps no value from the file: no secret, PIN or unknown value reaches the cache directory', async () => {
    await startConfig(config(), opts());
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    const kept = readFileSync(join(dir, files[0]!), 'utf8');
    for (const s of [NAS_SECRET, BIND_PASSWORD, '"1234"', 'dropped', 'dc1.corp.example', 'VPN MFA'])
      expect(kept).not.toContain(s);
  });

  it('validates again when the file, the build or the cache file changes; one cache file at a time', async () => {
    await startConfig(config(), opts());
    const changed = { ...config(), defaultCountry: 'DE' };
    expect((await startConfig(changed, opts())).defaultCountry).toBe('DE');
    expect(validations).toBe(2);
    expect(readdirSync(dir)).toHaveLength(1);
    await startConfig(changed, opts('build-b'));
    expect(validations).toBe(3);
    const [file] = readdirSync(dir);
    writeFileSync(join(dir, file!), '{"key":"damaged');
    await startConfig(changed, opts('build-b'));
    expect(validations).toBe(4);
    await startConfig(changed, opts('build-b'));
    expect(validations).toBe(4);
  });

  it('refuses an invalid config with the field named, every time, and caches nothing', async () => {
    const bad = { ...config(), passcode: { ttlSeconds: 5 } };
    for (let i = 0; i < 2; i++) {
      const err = await startConfig(bad, opts()).catch((e: unknown) => e);
      expect(isMfaError(err, ErrorCode.ConfigInvalid) && err.field).toBe('passcode.ttlSeconds');
    }
    expect(validations).toBe(2);
    expect(readdirSync(dir)).toHaveLength(0);
  });

  it('validates every time without a cache directory or a build id (run from source, a shell)', async () => {
    await startConfig(config(), { cacheDir: undefined, buildId: 'b', validate });
    await startConfig(config(), { cacheDir: dir, buildId: undefined, validate });
    await startConfig(config(), { cacheDir: dir, buildId: undefined, validate });
    expect(validations).toBe(3);
    expect(readdirSync(dir)).toHaveLength(0);
  });
});
