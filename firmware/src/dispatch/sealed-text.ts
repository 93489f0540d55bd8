/**
 * AES-256-GCM for one outbox text. A fresh 96-bit nonce per entry; the challengeId is the
 * associated data, so a ciphertext moved onto another entry fails to open.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { Random } from '../clock.ts';
import { ErrorCode, MfaError } from '../errors.ts';

/** Base64 fields, JSON-friendly for the store. */
export interface SealedText {
  v: 1;
  nonce: string;
  ct: string;
  tag: string;
}

export function sealText(key: Buffer, aad: string, text: string, random: Random): SealedText {
  const nonce = random.bytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ct = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return {
    v: 1,
    nonce: nonce.toString('base64'),
    ct: ct.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
  };
}

export function openText(key: Buffer, aad: string, sealed: SealedText): string {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.nonce, 'base64'));
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed.ct, 'base64')), decipher.final()]).toString(
      'utf8',
    );
  } catch (e) {
    throw new MfaError('outbox text does not decrypt with this device key', ErrorCode.OutboxDecryptFailed, {
      cause: e,
    });
  }
}
