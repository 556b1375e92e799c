import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { keyId, open, reseal, seal, SecretError } from '../../src/model/store/secrets.ts';

const key = randomBytes(32);
const other = randomBytes(32);

describe('secrets at rest', () => {
  it('round-trips and never contains the plaintext', () => {
    const { sealed, keyId: id } = seal('pat-na1-secret-token', { current: key });
    expect(sealed).not.toContain('secret');
    expect(id).toBe(keyId(key));
    expect(open(sealed, { current: key })).toBe('pat-na1-secret-token');
  });

  it('uses a fresh nonce each time', () => {
    expect(seal('same', { current: key }).sealed).not.toBe(seal('same', { current: key }).sealed);
  });

  it('refuses a tampered secret and a wrong key', () => {
    const { sealed } = seal('value', { current: key });
    const parts = sealed.split('.');
    const flipped = Buffer.from(parts[4]!, 'base64url');
    flipped[0]! ^= 1;
    parts[4] = flipped.toString('base64url');
    expect(() => open(parts.join('.'), { current: key })).toThrow(SecretError);
    expect(() => open(sealed, { current: other })).toThrow(/no key with id/);
  });

  it('opens with a retired key after rotation and re-seals with the current one', () => {
    const { sealed } = seal('rotate me', { current: key });
    const rotated = { current: other, retired: [key] };
    expect(open(sealed, rotated)).toBe('rotate me');
    const resealed = reseal(sealed, rotated)!;
    expect(resealed.keyId).toBe(keyId(other));
    expect(open(resealed.sealed, { current: other })).toBe('rotate me');
    expect(reseal(resealed.sealed, rotated)).toBeUndefined();
  });
});
