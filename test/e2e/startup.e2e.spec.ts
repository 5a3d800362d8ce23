import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { RunningServer, startServer, stopAll } from '../support/server';
import { ERR, assertError, plain, uniqueSuffix } from './support/contract';

/** Starts a server that must refuse to start; resolves what it said. */
async function refusedStart(env: Record<string, string>): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mfa-test-refused-'));
  try {
    await startServer({ dataDir, env });
  } catch (error) {
    return plain((error as Error).message);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  assert.fail(`the server started with ${JSON.stringify(env)}`);
}

const exitCodeOf = (message: string) => Number(/exited with code (\d+)/.exec(message)?.[1]);

describe('starting the service', () => {
  after(stopAll);

  it('runs in development mode without OIDC settings, and warns about it at start', async () => {
    const server = await startServer();
    const logs = plain(server.logs());
    const warning = logs.split('\n').find((line) => /development/i.test(line));
    assert.ok(warning, `no development-mode line in:\n${logs}`);
    assert.match(warning, /warn/i);
    assert.match(warning, /dev-signing-key\.json|signing key/i);
    // Its own development tokens work.
    const token = await server.token({ sub: `self-${uniqueSuffix()}` });
    assertError(await server.request('GET', `/v2/users/does-not-exist`, { token }), ERR.permissionDenied);
    assert.equal(await server.stop(), 0);
  });

  it('refuses NODE_ENV=production without OIDC settings, naming OIDC_ISSUER', async () => {
    const said = await refusedStart({ NODE_ENV: 'production' });
    assert.ok(exitCodeOf(said) > 0, said);
    assert.match(said, /OIDC_ISSUER/);
  });

  it('refuses a bad PORT, naming it', async () => {
    const said = await refusedStart({ PORT: 'abc' });
    assert.ok(exitCodeOf(said) > 0, said);
    assert.match(said, /\bPORT\b/);
    assert.match(said, /abc/);
  });

  it('refuses a bad LOG_LEVEL, and OIDC_AUDIENCE without OIDC_ISSUER, naming the variable', async () => {
    const badLevel = await refusedStart({ LOG_LEVEL: 'loud' });
    assert.ok(exitCodeOf(badLevel) > 0, badLevel);
    assert.match(badLevel, /LOG_LEVEL/);
    const noIssuer = await refusedStart({ OIDC_AUDIENCE: 'mfa' });
    assert.ok(exitCodeOf(noIssuer) > 0, noIssuer);
    assert.match(noIssuer, /OIDC_ISSUER/);
  });

  describe('with OIDC settings (issuer, audience, a JWKS file)', () => {
    const issuer = 'https://issuer.example.com';
    const audience = `mfa-${uniqueSuffix()}`;
    let jwksDir: string;
    let server: RunningServer;
    const keys: Record<string, { privateKey: CryptoKey; kid: string }> = {};

    before(async () => {
      jwksDir = mkdtempSync(join(tmpdir(), 'mfa-test-jwks-'));
      const publicJwks = [];
      for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
        const pair = await generateKeyPair(alg, { extractable: true });
        keys[alg] = { privateKey: pair.privateKey, kid: `key-${alg}` };
        publicJwks.push({ ...(await exportJWK(pair.publicKey)), kid: `key-${alg}`, alg, use: 'sig' });
      }
      const jwksFile = join(jwksDir, 'jwks.json');
      writeFileSync(jwksFile, JSON.stringify({ keys: publicJwks }));
      server = await startServer({
        env: { OIDC_ISSUER: issuer, OIDC_AUDIENCE: audience, OIDC_JWKS_URI: pathToFileURL(jwksFile).href },
      });
    });
    after(() => rmSync(jwksDir, { recursive: true, force: true }));

    const sign = (
      alg: 'RS256' | 'ES256' | 'EdDSA',
      claims: Record<string, unknown> = {},
      options: { iss?: string; aud?: string | null; exp?: number } = {},
    ) => {
      let jwt = new SignJWT({ sub: 'oidc-user', ...claims })
        .setProtectedHeader({ alg, kid: keys[alg].kid })
        .setIssuer(options.iss ?? issuer)
        .setIssuedAt()
        .setExpirationTime(options.exp ?? '1h');
      if (options.aud !== null) jwt = jwt.setAudience(options.aud ?? audience);
      return jwt.sign(keys[alg].privateKey);
    };

    /** Asking about one's own missing user passes authentication and answers 404. */
    const asSelf = (token: string) => server.request('GET', '/v2/users/oidc-user', { token });

    it('does not run in development mode', () => {
      assert.doesNotMatch(plain(server.logs()), /development auth mode/i);
    });

    it('accepts RS256, ES256 and EdDSA tokens of the issuer for the audience', async () => {
      for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
        assertError(await asSelf(await sign(alg)), ERR.userNotFound);
      }
    });

    it('accepts a token expired for less than the allowed clock skew of 60 s', async () => {
      const exp = Math.floor(Date.now() / 1000) - 20;
      assertError(await asSelf(await sign('ES256', {}, { exp })), ERR.userNotFound);
    });

    it('rejects with 401 AUTH-7fs1f: wrong audience, no audience, wrong issuer, expired, a development token', async () => {
      const rejected = [
        await sign('ES256', {}, { aud: 'someone-else' }),
        await sign('RS256', {}, { aud: null }),
        await sign('EdDSA', {}, { iss: 'https://other.example.com' }),
        await sign('ES256', {}, { exp: Math.floor(Date.now() / 1000) - 600 }),
        await server.token({ sub: 'oidc-user' }),
      ];
      for (const token of rejected) assertError(await asSelf(token), ERR.invalidToken);
    });

    it('reads roles from the token', async () => {
      const token = await sign('ES256', { 'urn:zitadel:iam:org:project:roles': { IAM_OWNER: { 'org-1': 'org-1.example.com' } } });
      assertError(await server.request('GET', '/v2/users/someone-missing', { token }), ERR.userNotFound);
      const plainUser = await sign('ES256');
      assertError(await server.request('GET', '/v2/users/someone-missing', { token: plainUser }), ERR.permissionDenied);
    });
  });
});
