import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { Config, OidcConfig } from '../config/config';
import { ServiceError } from '../errors/service-error';
import { devKeyPath, loadOrCreateDevKey } from './dev-signing-key';
import { DEV_ISSUER, signDevToken, TokenVerifier } from './token-verifier';

const MISSING = 'AUTH-7fs1e';
const INVALID = 'AUTH-7fs1f';

function configFor(dataDir: string, oidc: OidcConfig = {}): Config {
  return {
    port: 0,
    grpcPort: 0,
    host: '127.0.0.1',
    dataDir,
    oidc,
    developmentAuth: !oidc.issuer && !oidc.audience && !oidc.jwksUri,
    production: false,
    logLevel: 'info',
    http: { bodyLimitBytes: 65536, requestTimeoutMs: 0, connectionTimeoutMs: 0, keepAliveTimeoutMs: 5000, rateLimitPerMinute: 0, maxConcurrentStreams: 100 },
    readyMaxLagEvents: 1000,
    stateCacheSize: 0,
    corsAllowedOrigins: [],
    actions: { retryInitialMs: 1000, retryMaxMs: 3_600_000, maxAttempts: 20, maxInFlightPerTarget: 4, instanceId: 'default', deliveredRetentionMs: 604_800_000 },
    eventsStreamMaxPerCaller: 5,
    eventsStreamMax: 200,
  };
}

function recordingLog() {
  const warnings: string[] = [];
  const infos: string[] = [];
  return { warnings, infos, warn: (m: string) => warnings.push(m), log: (m: string) => infos.push(m) };
}

async function rejectsWith(promise: Promise<unknown>, id: string): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ServiceError, `expected a ServiceError, got ${String(err)}`);
    assert.equal((err as ServiceError).id, id);
    return err as ServiceError;
  }
  assert.fail(`expected ${id}, but the call succeeded`);
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function sign(
  key: CryptoKey,
  header: { alg: string; kid?: string },
  payload: JWTPayload,
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header).sign(key);
}

describe('TokenVerifier in development mode', () => {
  let dataDir: string;
  let verifier: TokenVerifier;
  let log: ReturnType<typeof recordingLog>;
  let devKey: Awaited<ReturnType<typeof loadOrCreateDevKey>>;

  before(async () => {
    dataDir = join(mkdtempSync(join(tmpdir(), 'mfa-auth-')), 'nested', 'data');
    log = recordingLog();
    verifier = await TokenVerifier.create(configFor(dataDir), log);
    devKey = await loadOrCreateDevKey(dataDir);
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('makes a private key file readable by the owner only, and warns at start', () => {
    const path = devKeyPath(dataDir);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(log.warnings.length, 1);
    const warning = log.warnings[0]!;
    assert.match(warning, /development/i);
    assert.ok(warning.includes(path));
    assert.ok(warning.includes('npm run token -- --sub <id> --org <orgId> [--role IAM_OWNER]'));
    assert.ok(warning.includes('OIDC_ISSUER'));
  });

  it('treats a header that is not "Bearer <token>" as missing', async () => {
    for (const header of [undefined, '', 'Basic x', 'Bearer', 'Bearer ', 'Bearer    ', 'Bearerabc', 'Token abc']) {
      await rejectsWith(verifier.callerFrom(header), MISSING);
    }
  });

  it('rejects a malformed token as invalid', async () => {
    for (const token of ['abc', 'a.b.c', 'a.b', `${b64url({ alg: 'ES256' })}.${b64url({ sub: 'x' })}.`]) {
      await rejectsWith(verifier.callerFrom(`Bearer ${token}`), INVALID);
    }
  });

  it('accepts a dev token and reads the caller and its roles', async () => {
    const token = await signDevToken(dataDir, {
      sub: 'user-1',
      org: 'org-1',
      roles: { IAM_OWNER: [], ORG_USER_MANAGER: ['org-2', 'org-3'] },
      expiresIn: '1h',
    });
    const caller = await verifier.callerFrom(`Bearer ${token}`);
    const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp as number;
    assert.deepEqual({ ...caller, roles: { ...caller.roles } }, {
      userId: 'user-1',
      orgId: 'org-1',
      roles: { IAM_OWNER: ['org-1'], ORG_USER_MANAGER: ['org-2', 'org-3'] },
      // Refused from its expiry plus the allowed skew: what an event stream lasts.
      validUntil: (exp + 60) * 1000,
    });
    // The scheme is case-insensitive; the second call is answered from the cache.
    assert.equal((await verifier.callerFrom(`bearer ${token}`)).userId, 'user-1');
  });

  it('shapes the roles claim as ZITADEL does', async () => {
    const token = await signDevToken(dataDir, { sub: 'u', roles: { IAM_OWNER: [], ORG_OWNER: ['o9'] } });
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    assert.deepEqual(payload['urn:zitadel:iam:org:project:roles'], {
      IAM_OWNER: { global: 'global.localhost' },
      ORG_OWNER: { o9: 'o9.localhost' },
    });
    assert.equal(payload.iss, DEV_ISSUER);
    assert.equal(payload.exp, (payload.iat as number) + 12 * 3600);
    assert.equal(payload['urn:zitadel:iam:user:resourceowner:id'], undefined);
  });

  it('keeps the key: a second verifier over the same data folder accepts the first one\'s tokens', async () => {
    const token = await signDevToken(dataDir, { sub: 'user-2' });
    const again = await TokenVerifier.create(configFor(dataDir), recordingLog());
    const caller = await again.callerFrom(`Bearer ${token}`);
    assert.deepEqual({ userId: caller.userId, orgId: caller.orgId, roles: { ...caller.roles } }, { userId: 'user-2', orgId: undefined, roles: {} });
  });

  it('allows 60 s of clock skew on exp and nbf, and no more', async () => {
    const header = { alg: 'ES256', kid: devKey.kid };
    const base = { iss: DEV_ISSUER, sub: 'skew' };
    const now = nowSeconds();
    const ok = [
      { ...base, exp: now - 30 },
      { ...base, exp: now + 60, nbf: now + 30 },
    ];
    for (const payload of ok) {
      assert.equal((await verifier.callerFrom(`Bearer ${await sign(devKey.privateKey, header, payload)}`)).userId, 'skew');
    }
    const bad = [
      { ...base, exp: now - 61 },
      { ...base, exp: now + 600, nbf: now + 120 },
    ];
    for (const payload of bad) {
      await rejectsWith(verifier.callerFrom(`Bearer ${await sign(devKey.privateKey, header, payload)}`), INVALID);
    }
  });

  it('rejects a token signed by another key, even one claiming the dev key\'s kid', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const payload = { iss: DEV_ISSUER, sub: 'intruder', exp: nowSeconds() + 600 };
    await rejectsWith(verifier.callerFrom(`Bearer ${await sign(privateKey, { alg: 'ES256', kid: devKey.kid }, payload)}`), INVALID);
    await rejectsWith(verifier.callerFrom(`Bearer ${await sign(privateKey, { alg: 'ES256' }, payload)}`), INVALID);
  });

  it('rejects an unsigned alg "none" token', async () => {
    const token = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ iss: DEV_ISSUER, sub: 'u', exp: nowSeconds() + 600 })}.`;
    await rejectsWith(verifier.callerFrom(`Bearer ${token}`), INVALID);
  });

  it('rejects a wrong issuer, a missing sub and a missing exp', async () => {
    const header = { alg: 'ES256', kid: devKey.kid };
    const exp = nowSeconds() + 600;
    for (const payload of [
      { iss: 'https://evil.example', sub: 'u', exp },
      { iss: `${DEV_ISSUER}/`, sub: 'u', exp },
      { iss: DEV_ISSUER, exp },
      { iss: DEV_ISSUER, sub: '', exp },
      { iss: DEV_ISSUER, sub: 'u' },
    ]) {
      await rejectsWith(verifier.callerFrom(`Bearer ${await sign(devKey.privateKey, header, payload)}`), INVALID);
    }
  });

  it('stops answering a cached token from the moment jwtVerify would reject it', async (t) => {
    const exp = nowSeconds() + 10;
    const token = await sign(devKey.privateKey, { alg: 'ES256', kid: devKey.kid }, { iss: DEV_ISSUER, sub: 'cached', exp });
    assert.equal((await verifier.callerFrom(`Bearer ${token}`)).userId, 'cached');

    t.mock.timers.enable({ apis: ['Date'], now: (exp + 60) * 1000 - 1 });
    assert.equal((await verifier.callerFrom(`Bearer ${token}`)).userId, 'cached');
    const fresh = await TokenVerifier.create(configFor(dataDir), recordingLog());
    assert.equal((await fresh.callerFrom(`Bearer ${token}`)).userId, 'cached');

    t.mock.timers.setTime((exp + 60) * 1000);
    await rejectsWith(verifier.callerFrom(`Bearer ${token}`), INVALID);
  });
});

describe('TokenVerifier with a JWKS file and an audience', () => {
  const issuer = 'https://issuer.example.com';
  let dir: string;
  let rsa: CryptoKey;
  let ed: CryptoKey;
  let verifier: TokenVerifier;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mfa-jwks-'));
    const rsaPair = await generateKeyPair('RS256', { extractable: true });
    const edPair = await generateKeyPair('EdDSA', { extractable: true });
    rsa = rsaPair.privateKey;
    ed = edPair.privateKey;
    const keys: JWK[] = [
      { ...(await exportJWK(rsaPair.publicKey)), kid: 'rsa-1' },
      { ...(await exportJWK(edPair.publicKey)), kid: 'ed-1' },
    ];
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys }));
    const config = configFor(join(dir, 'data'), { issuer, audience: 'mfa-api', jwksUri: pathToFileURL(file).href });
    verifier = await TokenVerifier.create(config, recordingLog());
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts RS256 and EdDSA tokens for its audience', async () => {
    const payload = { iss: issuer, sub: 'u1', aud: ['other', 'mfa-api'], exp: nowSeconds() + 600 };
    assert.equal((await verifier.callerFrom(`Bearer ${await sign(rsa, { alg: 'RS256', kid: 'rsa-1' }, payload)}`)).userId, 'u1');
    assert.equal((await verifier.callerFrom(`Bearer ${await sign(ed, { alg: 'EdDSA', kid: 'ed-1' }, payload)}`)).userId, 'u1');
  });

  it('rejects another audience, no audience, and the wrong issuer', async () => {
    const exp = nowSeconds() + 600;
    for (const payload of [
      { iss: issuer, sub: 'u1', aud: 'other', exp },
      { iss: issuer, sub: 'u1', exp },
      { iss: 'https://other.example.com', sub: 'u1', aud: 'mfa-api', exp },
    ]) {
      await rejectsWith(verifier.callerFrom(`Bearer ${await sign(rsa, { alg: 'RS256', kid: 'rsa-1' }, payload)}`), INVALID);
    }
  });

  it('rejects algorithms other than RS256, ES256 and EdDSA, even with a trusted key', async () => {
    const payload = { iss: issuer, sub: 'u1', aud: 'mfa-api', exp: nowSeconds() + 600 };
    const rsaJwk = await exportJWK(rsa);
    for (const alg of ['RS384', 'PS256']) {
      const sameKey = (await importJWK(rsaJwk, alg)) as CryptoKey;
      await rejectsWith(verifier.callerFrom(`Bearer ${await sign(sameKey, { alg, kid: 'rsa-1' }, payload)}`), INVALID);
    }
  });

  it('does not accept dev tokens', async () => {
    const devToken = await signDevToken(join(dir, 'data'), { sub: 'dev' });
    await rejectsWith(verifier.callerFrom(`Bearer ${devToken}`), INVALID);
  });

  it('warns in production about a plain-HTTP issuer or key set and a missing audience, and not otherwise', async () => {
    const jwksUri = pathToFileURL(join(dir, 'jwks.json')).href;
    const warned = async (oidc: OidcConfig, production: boolean) => {
      const log = recordingLog();
      await TokenVerifier.create({ ...configFor(join(dir, 'data'), oidc), production }, log);
      return log.warnings;
    };
    assert.deepEqual(await warned({ issuer, audience: 'mfa-api', jwksUri }, true), []);
    const plain = await warned({ issuer: 'http://issuer.example.com', jwksUri }, true);
    assert.equal(plain.length, 2, plain.join('\n'));
    assert.match(plain[0]!, /OIDC_ISSUER is http:\/\/issuer\.example\.com, plain HTTP/);
    assert.match(plain[1]!, /OIDC_AUDIENCE is not set/);
    assert.deepEqual(await warned({ issuer: 'http://issuer.example.com', jwksUri }, false), [], 'development may use plain HTTP');
  });

  it('fails at start, naming OIDC_JWKS_URI, when the file cannot be read', async () => {
    const config = configFor(dir, { issuer, jwksUri: pathToFileURL(join(dir, 'nope.json')).href });
    await assert.rejects(TokenVerifier.create(config, recordingLog()), /OIDC_JWKS_URI/);
  });
});

describe('TokenVerifier with OpenID discovery', () => {
  let server: Server;
  let issuer: string;
  let es: CryptoKey;
  let jwks: unknown;
  let jwksStatus = 200;

  before(async () => {
    const pair = await generateKeyPair('ES256');
    es = pair.privateKey;
    jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'es-1' }] };
    server = createServer((req, res) => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (req.url === '/.well-known/openid-configuration') reply(200, { issuer, jwks_uri: `${issuer}/oauth/v2/keys` });
      else if (req.url === '/oauth/v2/keys') reply(jwksStatus, jwksStatus === 200 ? jwks : { error: 'down' });
      else reply(404, {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('finds the keys through the issuer and verifies with them', async () => {
    const log = recordingLog();
    const verifier = await TokenVerifier.create(configFor('/nonexistent', { issuer }), log);
    assert.ok(log.infos.some((m) => m.includes(`${issuer}/oauth/v2/keys`)));
    assert.equal(log.warnings.length, 0);
    const payload = { iss: issuer, sub: 'remote', exp: nowSeconds() + 600 };
    assert.equal((await verifier.callerFrom(`Bearer ${await sign(es, { alg: 'ES256', kid: 'es-1' }, payload)}`)).userId, 'remote');
    const { privateKey: foreign } = await generateKeyPair('ES256');
    await rejectsWith(verifier.callerFrom(`Bearer ${await sign(foreign, { alg: 'ES256', kid: 'es-1' }, payload)}`), INVALID);
    await rejectsWith(verifier.callerFrom(`Bearer ${await sign(foreign, { alg: 'ES256', kid: 'unknown' }, payload)}`), INVALID);
  });

  it('fails at start, naming OIDC_ISSUER, when discovery fails', async () => {
    await assert.rejects(
      TokenVerifier.create(configFor('/nonexistent', { issuer: `${issuer}/no-such-issuer` }), recordingLog()),
      (err: Error) => err.message.includes('OIDC_ISSUER') && err.message.includes('/no-such-issuer/.well-known/openid-configuration'),
    );
  });

  it('answers 503, not "invalid token", when the key server fails', async () => {
    jwksStatus = 500;
    try {
      const verifier = await TokenVerifier.create(configFor('/nonexistent', { issuer }), recordingLog());
      const payload = { iss: issuer, sub: 'remote', exp: nowSeconds() + 600 };
      const err = await rejectsWith(
        verifier.callerFrom(`Bearer ${await sign(es, { alg: 'ES256', kid: 'es-1' }, payload)}`),
        'AUTH-jwks1',
      );
      assert.equal(err.httpStatus, 503);
    } finally {
      jwksStatus = 200;
    }
  });
});
