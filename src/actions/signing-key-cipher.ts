import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** Marks a sealed key; base64url, which plain keys are written in, has no '.', so neither is ever read as the other. */
const SEALED = 'sealed-v1';

/** A key that cannot be used to sign: the delivery fails with this text, for an operator to read. */
export class SigningKeyUnavailableError extends Error {}

/**
 * How a target's signing key is kept in the log and the outbox. With ACTIONS_SIGNING_KEY_SECRET
 * set, it is sealed (AES-256-GCM, a key derived from the secret): whoever reads the database
 * cannot forge the signatures targets check. Without it the key is kept as it is, as before the
 * setting existed; keys kept so stay readable after a secret is set.
 */
export class SigningKeyCipher {
  private readonly key: Buffer | null;

  constructor(secret: string | undefined) {
    this.key = secret ? createHash('sha256').update(secret, 'utf8').digest() : null;
  }

  seal(signingKey: string): string {
    if (!this.key) return signingKey;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const sealed = Buffer.concat([cipher.update(signingKey, 'utf8'), cipher.final()]);
    return [SEALED, iv.toString('base64url'), sealed.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  open(stored: string): string {
    if (!stored.startsWith(`${SEALED}.`)) return stored;
    if (!this.key) {
      throw new SigningKeyUnavailableError("the target's signing key is sealed and ACTIONS_SIGNING_KEY_SECRET is not set");
    }
    const [, iv, sealed, tag] = stored.split('.');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(sealed, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SigningKeyUnavailableError(
        "the target's signing key cannot be opened with ACTIONS_SIGNING_KEY_SECRET (it was sealed with another secret)",
      );
    }
  }
}

export const SIGNING_KEY_CIPHER = Symbol('SigningKeyCipher');
