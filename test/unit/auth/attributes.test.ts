import { describe, expect, it } from 'vitest';
import {
  MAX_GROUP_ATTRIBUTES,
  MAX_VSA_DATA,
  groupAttributes,
} from '../../../firmware/src/auth/attributes.ts';
import { groupAttributeSchema, type GroupAttributeConfig } from '../../../firmware/src/config/schema.ts';
import {
  acceptReply,
  type AuthEngineConfig,
  type EngineContext,
} from '../../../firmware/src/auth/engine-context.ts';
import type { HandlerReply, NasClient } from '../../../firmware/src/auth/types.ts';
import { encodeAttributes } from '../../../firmware/src/radius/codec.ts';

const cfg = groupAttributeSchema.parse({});

/** Through the real codec: the bytes NetScaler would read. */
function decode(name: string, data: Buffer): { vendor: number; type: number; len: number; text: string } {
  const b = encodeAttributes([[name, data]]);
  expect(b[0]).toBe(26);
  expect(b[1]).toBe(b.length);
  return { vendor: b.readUInt32BE(2), type: b[6]!, len: b[7]!, text: b.subarray(8).toString('utf8') };
}

describe('group attributes for NetScaler', () => {
  it('defaults to Citrix vendor 66, type 16, "CTXSUserGroups=" and ";"', () => {
    const { attributes, omitted } = groupAttributes(['MFA Users', 'VPN Users'], cfg);
    expect(omitted).toEqual([]);
    expect(attributes).toHaveLength(1);
    const [name, value] = attributes[0]!;
    expect(name).toBe('26:66:16');
    expect(decode(name, value)).toEqual({
      vendor: 66,
      type: 16,
      len: 2 + 34,
      text: 'CTXSUserGroups=MFA Users;VPN Users',
    });
  });

  it('off sends nothing; include filters case-insensitively', () => {
    expect(groupAttributes(['A'], { ...cfg, mode: 'off' }).attributes).toEqual([]);
    const r = groupAttributes(['VPN Users', 'Domain Users', 'Admins'], {
      ...cfg,
      include: ['vpn users', 'ADMINS'],
    });
    expect(decode(...r.attributes[0]!).text).toBe('CTXSUserGroups=VPN Users;Admins');
  });

  it('no groups → no attribute', () => {
    expect(groupAttributes([], cfg).attributes).toEqual([]);
  });

  it('splits long lists over several attributes, each with the prefix and within 247 bytes', () => {
    const groups = Array.from({ length: 40 }, (_, i) => `Group number ${String(i).padStart(2, '0')}`);
    const { attributes, omitted } = groupAttributes(groups, cfg);
    expect(omitted).toEqual([]);
    expect(attributes.length).toBeGreaterThan(1);
    const names: string[] = [];
    for (const [n, v] of attributes) {
      const d = decode(n, v);
      expect(v.length).toBeLessThanOrEqual(MAX_VSA_DATA);
      expect(d.len).toBe(v.length + 2);
      expect(d.text.startsWith('CTXSUserGroups=')).toBe(true);
      names.push(...d.text.slice('CTXSUserGroups='.length).split(';'));
    }
    expect(names).toEqual(groups);
  });

  it('leaves out names holding the separator or too long, and anything past the attribute cap', () => {
    const long = 'x'.repeat(240);
    const r = groupAttributes(['a;b', long, 'ok'], cfg);
    expect(r.omitted).toEqual(['a;b', long]);
    expect(decode(...r.attributes[0]!).text).toBe('CTXSUserGroups=ok');
    const many = Array.from({ length: 200 }, (_, i) => `g${i}-${'y'.repeat(40)}`);
    const capped = groupAttributes(many, cfg);
    expect(capped.attributes).toHaveLength(MAX_GROUP_ATTRIBUTES);
    expect(capped.omitted.length).toBeGreaterThan(0);
    const sent = capped.attributes.flatMap(([n, v]) => decode(n, v).text.slice(15).split(';'));
    expect([...sent, ...capped.omitted].sort()).toEqual([...many].sort());
  });
});

describe('the Accept reply (acceptReply) and its remembered group attributes', () => {
  const client: NasClient = {
    name: 'ns',
    match: '10.0.0.1',
    requireMessageAuthenticator: 'yes',
    passwordCheck: 'directory',
    acceptAttributes: [['Class', 'mfabox']],
  };
  const engineCfg = (groupAttribute: GroupAttributeConfig) =>
    ({ policy: { groupAttribute } }) as unknown as AuthEngineConfig;
  const ctx = {} as EngineContext;
  const text = (r: HandlerReply) => r.attributes.map(([k, v]) => `${k}=${v.toString()}`);

  it('answers the same group list alike, a changed config at once, and shares nothing writable', () => {
    const a = engineCfg(cfg);
    const first = acceptReply(ctx, client, ['MFA Users', 'VPN'], a);
    expect(text(first)).toEqual(['Class=mfabox', '26:66:16=CTXSUserGroups=MFA Users;VPN']);
    expect(text(acceptReply(ctx, client, ['MFA Users', 'VPN'], a))).toEqual(text(first));
    expect(text(acceptReply(ctx, client, ['MFA Users'], a))).toEqual([
      'Class=mfabox',
      '26:66:16=CTXSUserGroups=MFA Users',
    ]);
    // A reload hands a new config object: its prefix applies to the very next Accept.
    const b = engineCfg(groupAttributeSchema.parse({ prefix: 'G:' }));
    expect(text(acceptReply(ctx, client, ['MFA Users', 'VPN'], b))).toEqual([
      'Class=mfabox',
      '26:66:16=G:MFA Users;VPN',
    ]);
    // Each reply has its own list; the remembered pairs inside are frozen.
    first.attributes.push(['Reply-Message', 'x']);
    expect(acceptReply(ctx, client, ['MFA Users', 'VPN'], a).attributes).toHaveLength(2);
    expect(Object.isFrozen(first.attributes[1])).toBe(true);
  });
});
