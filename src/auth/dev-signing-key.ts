import { randomUUID } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';

/** The issuer of development tokens; the verifier accepts no other in development mode. */
export const DEV_ISSUER = 'http://localhost';
export const DEV_KEY_ALG = 'ES256';

export interface DevSigningKey {
  path: string;
  kid: string;
  privateKey: CryptoKey;
  /** The only key a development-mode verifier trusts. */
  publicJwk: JWK;
}

export function devKeyPath(dataDir: string): string {
  return join(dataDir, 'dev-signing-key.json');
}

/** Loads the development key pair from dataDir, making it on first use. */
export async function loadOrCreateDevKey(dataDir: string): Promise<DevSigningKey> {
  const path = devKeyPath(dataDir);
  const stored = (await readJwk(path)) ?? (await createJwk(dataDir, path));
  if (stored.kty !== 'EC' || stored.crv !== 'P-256' || !stored.d || !stored.kid) {
    throw new Error(`${path} is not an ES256 private JWK with a kid; delete it to have a new one made`);
  }
  const { d: _d, ...publicJwk } = stored;
  return {
    path,
    kid: stored.kid,
    privateKey: (await importJWK(stored, DEV_KEY_ALG)) as CryptoKey,
    publicJwk: { ...publicJwk, alg: DEV_KEY_ALG, use: 'sig' },
  };
}

async function readJwk(path: string): Promise<JWK | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as JWK;
  } catch (cause) {
    throw new Error(`${path} is not valid JSON; delete it to have a new key made`, { cause });
  }
}

async function createJwk(dataDir: string, path: string): Promise<JWK> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const { privateKey } = await generateKeyPair(DEV_KEY_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  jwk.kid = await calculateJwkThumbprint(jwk);
  jwk.alg = DEV_KEY_ALG;
  // Written aside and linked into place: link fails if the file exists, so when the service and
  // the token script race, both end up with the one key that won, never a half-written file.
  const temp = `${path}.${randomUUID()}.tmp`;
  await writeFile(temp, JSON.stringify(jwk, null, 2) + '\n', { mode: 0o600 });
  try {
    await link(temp, path);
    return jwk;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const winner = await readJwk(path);
    if (!winner) throw err;
    return winner;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}
