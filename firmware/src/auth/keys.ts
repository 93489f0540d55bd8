/**
 * The auth policy's keys: the device key's HKDF subkeys for token secrets and override codes
 * (store/device-key.ts), so neither is the raw device key nor the other.
 */
import { deriveSubkey } from '../store/device-key.ts';

export interface AuthKeys {
  /** AES-256-GCM key for OATH token secrets at rest. */
  tokenSecrets: Buffer;
  /** HMAC key for override-code hashes. */
  overrideCodes: Buffer;
}

export function deriveAuthKeys(deviceKey: Buffer): AuthKeys {
  return {
    tokenSecrets: deriveSubkey(deviceKey, 'oath-secrets'),
    overrideCodes: deriveSubkey(deviceKey, 'override-codes'),
  };
}
