/**
 * Access-Accept attributes that carry AD groups to the NAS, pure.
 *
 * NetScaler's radiusAction reads groups from one vendor attribute (-radVendorID, which must be
 * ≥ 1, so a standard attribute such as Class cannot be used) and attribute type
 * (-radAttributeType), strips -radGroupsPrefix and splits on -radGroupSeparator. The usual
 * recipe, and our default, is vendor 66 / type 16 (Citrix-User-Groups in FreeRADIUS's
 * dictionary.citrix) with "CTXSUserGroups=" and ";".
 */
import type { GroupAttributeConfig } from '../config/schema.ts';
import { vendorAttribute } from './types.ts';

/**
 * 253 bytes of attribute value, less the 6-byte vendor header (radius/codec.ts builds the bytes
 * and refuses more).
 */
export const MAX_VSA_DATA = 247;
/** At most this many group attributes, so an Accept stays far inside RADIUS's 4096 bytes. */
export const MAX_GROUP_ATTRIBUTES = 8;

export interface GroupAttributesResult {
  /** `26:<vendorId>:<type>` and the vendor data (prefix + groups), ready for HandlerReply. */
  attributes: [string, Buffer][];
  /** Groups left out: over the size cap, containing the separator, or too long for one attribute. */
  omitted: string[];
}

/**
 * Packs the user's groups into as few Vendor-Specific attributes as fit, each starting with the
 * prefix (NetScaler reads every instance). A group name holding the separator would be split
 * into two wrong names, so it is left out rather than sent.
 */
export function groupAttributes(groups: readonly string[], cfg: GroupAttributeConfig): GroupAttributesResult {
  if (cfg.mode === 'off') return { attributes: [], omitted: [] };
  const include = new Set(cfg.include.map((g) => g.toLowerCase()));
  const wanted = groups.filter((g) => include.size === 0 || include.has(g.toLowerCase()));
  const prefix = Buffer.from(cfg.prefix, 'utf8');
  const sep = Buffer.from(cfg.separator, 'utf8');
  const omitted: string[] = [];
  const chunks: Buffer[][] = [];
  let current: Buffer[] = [];
  let size = prefix.length;
  for (const g of wanted) {
    const name = Buffer.from(g, 'utf8');
    if (g.includes(cfg.separator) || prefix.length + name.length > MAX_VSA_DATA) {
      omitted.push(g);
      continue;
    }
    const add = (current.length > 0 ? sep.length : 0) + name.length;
    if (size + add > MAX_VSA_DATA) {
      chunks.push(current);
      current = [];
      size = prefix.length;
    }
    if (chunks.length >= MAX_GROUP_ATTRIBUTES) {
      omitted.push(g);
      continue;
    }
    size += (current.length > 0 ? sep.length : 0) + name.length;
    current.push(name);
  }
  if (current.length > 0 && chunks.length < MAX_GROUP_ATTRIBUTES) chunks.push(current);
  const attributes = chunks.map((names): [string, Buffer] => {
    const parts: Buffer[] = [prefix];
    names.forEach((n, i) => parts.push(...(i > 0 ? [sep, n] : [n])));
    return [vendorAttribute(cfg.vendorId, cfg.attributeType), Buffer.concat(parts)];
  });
  return { attributes, omitted };
}
