import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from 'jose';
import { ConfigError, type Config } from '../config/config';
import { Errors } from '../errors/errors';
import { ServiceError } from '../errors/service-error';
import { callerFromClaims, RESOURCE_OWNER_CLAIM, ROLES_CLAIM, type Caller } from './caller';
import { DEV_ISSUER, DEV_KEY_ALG, loadOrCreateDevKey } from './dev-signing-key';

export { DEV_ISSUER } from './dev-signing-key';

const ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];
const CLOCK_TOLERANCE_SECONDS = 60;
const CACHE_MAX_ENTRIES = 10_000;
const DISCOVERY_TIMEOUT_MS = 10_000;

interface Logger {
  warn(msg: string): void;
  log(msg: string): void;
}

interface CachedCaller {
  caller: Caller;
  /** Epoch ms from which jwtVerify would reject the token as expired. */
  rejectFrom: number;
}

/** Turns an `Authorization` header into a verified Caller, as the contract's "Callers and permissions" says. */
export class TokenVerifier {
  private readonly cache = new Map<string, CachedCaller>();

  private constructor(
    private readonly keys: JWTVerifyGetKey,
    private readonly issuer: string,
    private readonly audience: string | undefined,
  ) {}

  static async create(config: Config, log: Logger): Promise<TokenVerifier> {
    if (config.developmentAuth) {
      const key = await loadOrCreateDevKey(config.dataDir);
      log.warn(
        `Development auth mode: no OIDC setting is given, so only tokens signed with the local key ${key.path} ` +
          `(issuer ${DEV_ISSUER}) are accepted. Print one with ` +
          '`npm run token -- --sub <id> --org <orgId> [--role IAM_OWNER]`. ' +
          'Production must set OIDC_ISSUER (and OIDC_JWKS_URI unless the issuer serves discovery).',
      );
      return new TokenVerifier(createLocalJWKSet({ keys: [key.publicJwk] }), DEV_ISSUER, undefined);
    }
    const { issuer, audience, jwksUri } = config.oidc;
    if (!issuer) throw new ConfigError('OIDC_ISSUER', 'must be set when OIDC_AUDIENCE or OIDC_JWKS_URI is');
    let keys: JWTVerifyGetKey;
    let source: string;
    if (jwksUri && !/^https?:/i.test(jwksUri)) {
      source = jwksFilePath(jwksUri);
      keys = await localKeys(source);
    } else {
      source = jwksUri ?? (await discoverJwksUri(issuer));
      keys = remoteKeys(new URL(source));
    }
    log.log(
      `Accepting tokens from issuer ${issuer}${audience ? ` for audience ${audience}` : ''} with keys from ${source}`,
    );
    if (config.production) {
      for (const [name, value] of [['OIDC_ISSUER', issuer], ['OIDC_JWKS_URI', source]]) {
        if (/^http:/i.test(value)) log.warn(`${name} is ${value}, plain HTTP: the keys that decide who may call can be changed on the way; use https`);
      }
      if (!audience) {
        log.warn('OIDC_AUDIENCE is not set: every token of the issuer is accepted, also one made for another application; set it to this API');
      }
    }
    return new TokenVerifier(keys, issuer, audience);
  }

  async callerFrom(authorization: string | undefined): Promise<Caller> {
    const token = /^Bearer\s+(.*)$/i.exec(authorization ?? '')?.[1]?.trim();
    if (!token) throw Errors.authHeaderMissing();

    const cached = this.cache.get(token);
    if (cached) {
      if (Date.now() < cached.rejectFrom) return cached.caller;
      this.cache.delete(token);
    }

    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(token, this.keys, {
        algorithms: ALGORITHMS,
        issuer: this.issuer,
        audience: this.audience,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        // A token without exp would be good forever, in the cache too.
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      if (err instanceof ServiceError) throw err;
      throw Errors.invalidToken(err);
    }
    const found = callerFromClaims(claims);
    if (!found) throw Errors.invalidToken(new Error('the token has no sub'));

    // jwtVerify accepts while now < exp + tolerance (in whole seconds), so the cache does the same.
    const rejectFrom = ((claims.exp as number) + CLOCK_TOLERANCE_SECONDS) * 1000;
    const caller = { ...found, validUntil: rejectFrom };
    if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(token, { caller, rejectFrom });
    return caller;
  }
}

/** `file:///abs/jwks.json`, or `file:relative/jwks.json` taken from the working directory. */
function jwksFilePath(jwksUri: string): string {
  if (/^file:\/\//i.test(jwksUri)) return fileURLToPath(jwksUri);
  return resolve(jwksUri.replace(/^file:/i, ''));
}

async function localKeys(path: string): Promise<JWTVerifyGetKey> {
  try {
    return createLocalJWKSet(JSON.parse(await readFile(path, 'utf8')) as JSONWebKeySet);
  } catch (cause) {
    throw new ConfigError('OIDC_JWKS_URI', `could not read a JWKS from ${path}: ${messageOf(cause)}`);
  }
}

/**
 * Keys fetched from the issuer. When the key server cannot be reached or answers garbage, that is
 * no fault of the token: the caller gets 503 and may retry, not a 401 that says its token is bad.
 */
function remoteKeys(url: URL): JWTVerifyGetKey {
  const jwks = createRemoteJWKSet(url);
  return async (header, token) => {
    try {
      return await jwks(header, token);
    } catch (err) {
      const aboutTheToken =
        err instanceof joseErrors.JWKSNoMatchingKey ||
        err instanceof joseErrors.JWKSMultipleMatchingKeys ||
        err instanceof joseErrors.JOSENotSupported;
      if (aboutTheToken) throw err;
      throw Errors.keysUnavailable(err);
    }
  };
}

async function discoverJwksUri(issuer: string): Promise<string> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const jwksUri = ((await response.json()) as { jwks_uri?: unknown }).jwks_uri;
    if (typeof jwksUri !== 'string' || !/^https?:\/\//i.test(jwksUri)) {
      throw new Error('the document has no http(s) jwks_uri');
    }
    return jwksUri;
  } catch (cause) {
    throw new ConfigError(
      'OIDC_ISSUER',
      `OpenID discovery at ${url} failed (${messageOf(cause)}); check OIDC_ISSUER, or set OIDC_JWKS_URI`,
    );
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export interface DevTokenOptions {
  sub: string;
  /** The caller's organization (`urn:zitadel:iam:user:resourceowner:id`). */
  org?: string;
  /** Role name to the organization ids it is granted in; an empty list means `org`, or "global". */
  roles?: Record<string, string[]>;
  /** A jose time span such as "1h" or "30m"; default 12h. */
  expiresIn?: string;
}

/** Signs a token that a development-mode verifier over the same dataDir accepts. */
export async function signDevToken(dataDir: string, opts: DevTokenOptions): Promise<string> {
  const key = await loadOrCreateDevKey(dataDir);
  const roles: Record<string, Record<string, string>> = {};
  for (const [role, orgIds] of Object.entries(opts.roles ?? {})) {
    const keyedBy = orgIds.length > 0 ? orgIds : [opts.org ?? 'global'];
    roles[role] = Object.fromEntries(keyedBy.map((orgId) => [orgId, `${orgId}.localhost`]));
  }
  const claims: Record<string, unknown> = {};
  if (Object.keys(roles).length > 0) claims[ROLES_CLAIM] = roles;
  if (opts.org) claims[RESOURCE_OWNER_CLAIM] = opts.org;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: DEV_KEY_ALG, kid: key.kid, typ: 'JWT' })
    .setIssuer(DEV_ISSUER)
    .setSubject(opts.sub)
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '12h')
    .sign(key.privateKey);
}
