import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../firmware/src/config/load.ts';
import { isMfaError } from '../../../firmware/src/errors.ts';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const start = readme.indexOf('\n## Configuration\n');
const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
const example = /```json\n([\s\S]*?)```/.exec(section)?.[1] ?? '';

describe('README configuration section', () => {
  it('has an example config that validates as a whole', () => {
    const config = parseConfig(JSON.parse(example));
    expect(config.directory.kind).toBe('ldap');
    expect(config.modems).toHaveLength(2);
    expect(config.radius.clients[0]?.requireMessageAuthenticator).toBe('yes');
  });

  it('documents every top-level section of the schema', () => {
    const config = parseConfig({});
    for (const key of Object.keys(config)) expect(section).toContain(`\`${key}`);
  });

  it('lets policy.mfaGroup follow directory.group unless it is set', () => {
    const base = { directory: { kind: 'demo', group: 'VPN MFA' } };
    expect(parseConfig(base).policy.mfaGroup).toBe('VPN MFA');
    expect(parseConfig({ ...base, policy: { mfaGroup: '' } }).policy.mfaGroup).toBe('');
    expect(parseConfig({}).policy.mfaGroup).toBe('MFA Users');
  });

  it('names the failing field when the example is broken', () => {
    const broken = JSON.parse(example) as { passcode: { ttlSeconds: number } };
    broken.passcode.ttlSeconds = 5;
    try {
      parseConfig(broken);
      expect.unreachable();
    } catch (e) {
      expect(isMfaError(e) && e.field).toBe('passcode.ttlSeconds');
    }
  });
});
