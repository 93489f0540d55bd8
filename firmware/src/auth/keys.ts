/**
 * The auth policy's keys, derived from the device key with HKDF-SHA256 and a label per use, so
 * the token-secret key and the override-code key are never the raw device key nor each other.
 *
 * One place on purpose: the device key is moving to `store/device-key.ts` with its own
 * `subkey(label)`; when it lands, this file is the only one that changes.
 */
import { hkdfSync } from 'node:crypto';

export type AuthKeyLabel = 'mfabox/oath-secrets' | 'mfabox/override-codes';

export interface AuthKeys {
  /** AES-256-GCM key for OATH token secrets at rest. */
  tokenSecrets: Buffer;
  /** HMAC key for override-code hashes. */
  overrideCodes: Buffer;
}

function subkey(deviceKey: Buffer, label: AuthKeyLabel): Buffer {
  return Buffer.from(hkdfSync('sha256', deviceKey, Buffer.alloc(0), label, 32));
}

export function deriveAuthKeys(deviceKey: Buffer): AuthKeys {
  return {
    tokenSecrets: subkey(deviceKey, 'mfabox/oath-secrets'),
    overrideCodes: subkey(deviceKey, 'mfabox/override-codes'),
  };
}
