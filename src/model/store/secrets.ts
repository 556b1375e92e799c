import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Secrets at rest (CRM credentials, webhook secrets): AES-256-GCM with a random 96-bit nonce.
 * The sealed form names the key that sealed it (`v1.<keyId>.<nonce>.<tag>.<ciphertext>`), so keys
 * can rotate: new secrets use the current key, old ones open with a retired key until re-sealed.
 */
export interface Keyring {
  current: Buffer;
  retired?: Buffer[];
}

/** A key's id: the first 8 bytes of its SHA-256, hex. Identifies the key without revealing it. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

export function seal(plaintext: string, keyring: Keyring): { sealed: string; keyId: string } {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyring.current, nonce);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const id = keyId(keyring.current);
  const parts = [nonce, cipher.getAuthTag(), ciphertext].map((b) => b.toString('base64url'));
  return { sealed: ['v1', id, ...parts].join('.'), keyId: id };
}

export class SecretError extends Error {}

export function open(sealed: string, keyring: Keyring): string {
  const [version, id, nonce, tag, ciphertext] = sealed.split('.');
  if (version !== 'v1' || !id || !nonce || !tag || ciphertext === undefined) throw new SecretError('not a sealed secret');
  const key = [keyring.current, ...(keyring.retired ?? [])].find((k) => keyId(k) === id);
  if (!key) throw new SecretError(`no key with id ${id} in the keyring: was ENCRYPTION_KEY rotated without keeping the old one?`);
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  try {
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new SecretError('the sealed secret was altered or the key is wrong');
  }
}

/** Re-seals a secret with the current key when an older one sealed it (key rotation). */
export function reseal(sealed: string, keyring: Keyring): { sealed: string; keyId: string } | undefined {
  return sealed.split('.')[1] === keyId(keyring.current) ? undefined : seal(open(sealed, keyring), keyring);
}
