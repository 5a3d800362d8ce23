import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { fromJson, toBinary, toJson, type DescService, type JsonValue } from '@bufbuild/protobuf';
import { call, envelope, openSession } from '../grpc/support/raw-grpc';
import { SignJWT, generateKeyPair, type JWTPayload } from 'jose';
import { RESOURCE_OWNER_CLAIM, ROLES_CLAIM } from '../../src/auth/caller';
import { DEV_ISSUER, DEV_KEY_ALG, loadOrCreateDevKey } from '../../src/auth/dev-signing-key';
import { Response, RunningServer, startServer, stopAll } from '../support/server';
import { EventCounter, assertContractError, eventCounter } from './support/ops';

/** Generated requests; each one is sent to the running server. */
/** Generated requests per protocol: 2,000 in `npm test`; .ci/run's second backend sets fewer (FUZZ_RUNS). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 2000);

const ROLES = ['IAM_OWNER', 'IAM_USER_MANAGER', 'ORG_OWNER', 'ORG_USER_MANAGER', 'NOT_A_ROLE'];
const ORGS = ['org-1', 'org-2', ''];
/** Methods fetch lets us send (it refuses CONNECT, TRACE and TRACK). */
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PROPFIND', 'QUERY'];
/** The API's own routes, so that most requests get past routing to the token, shape and rule checks. */
const API_ROUTES: Array<[string, string]> = [
  ['POST', '/v2/users/human'],
  ['GET', '/v2/users/{id}'],
  ['DELETE', '/v2/users/{id}'],
  ['POST', '/v2/users/{id}/email'],
  ['POST', '/v2/users/{id}/otp_email'],
  ['DELETE', '/v2/users/{id}/otp_email'],
  ['POST', '/v2/users/{id}/authentication_factors/_search'],
];
const ROUTES = [
  '/v2/users/human',
  '/v2/users/{id}',
  '/v2/users/{id}/email',
  '/v2/users/{id}/otp_email',
  '/v2/users/{id}/authentication_factors/_search',
  '/v2/users/{id}/{id}',
  '/v2/users',
  '/v2',
  '/admin/v1/views/_search',
  '/admin/v1/views/{id}/{id}',
  '/admin/v1/security_notifications/_search',
  '/v2/events/_stream',
  '/healthz',
  '/readyz',
  '/openapi.json',
  '/docs',
];

/** Printable ASCII: what an HTTP header value may hold. */
const headerText = (maxLength: number) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

/** A request that must be answered within REQUEST_TIMEOUT_MS: a request left hanging is a failure too. */
const REQUEST_TIMEOUT_MS = 10_000;

async function send(baseUrl: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Response> {
  const response = await fetch(baseUrl + path, { method, headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    // The event stream (GET /v2/events/_stream) is endless by design: its headers are its answer.
    await response.body?.cancel();
    return { status: response.status, headers: response.headers, body: undefined, text: '' };
  }
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: the shape check below says so
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/** fast-check's report, with the counterexample cut short: a generated body can be 70 KiB. */
async function assertShortly(run: Promise<void>): Promise<void> {
  try {
    await run;
  } catch (error) {
    // fast-check gives the failed assertion as the cause.
    const cause = (error as Error).cause;
    const message = `${(error as Error).message}${cause instanceof Error ? `\nbecause: ${cause.message}` : ''}`;
    throw new Error(message.length > 4000 ? `${message.slice(0, 3000)} … ${message.slice(-1000)}` : message);
  }
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Runs on the store the run configures: the embedded one, or PostgreSQL (DATABASE_URL), whose
 * events it counts directly. Events in EventStoreDB are not counted: that pass skips the suite.
 */
const ON_A_COUNTABLE_STORE = {
  skip: process.env.EVENTSTORE_CONNECTION_STRING ? 'counts events in SQLite or PostgreSQL, not in EventStoreDB' : false,
};

describe('bad input: random requests never get a 500, always get the contract error shape, and change nothing when rejected', ON_A_COUNTABLE_STORE, () => {
  let server: RunningServer;
  let events: EventCounter;
  let knownUserIds: string[];
  let sentinel: { id: string; before: string };
  let fixedTokens: string[];
  let validTokens: string[];
  /** Signed by the trusted key, with claims of every odd shape: prototype role names, arrays, nulls, nesting. */
  let oddClaimTokens: string[];
  let sent = 0;
  let proto: { UserService: DescService };
  const statuses = new Map<number, number>();

  let admin: string;
  const create = async (body: object) => {
    const response = await server.request('POST', '/v2/users/human', { token: admin, body });
    assert.equal(response.status, 200, response.text);
    return response.body.userId as string;
  };
  /**
   * The users requests name: one with OTP Email, one unverified, one deleted, one in another
   * organization. Each run gets its own, as the run before may have deleted or changed them.
   */
  let sets = 0;
  const targetUsers = async (): Promise<string[]> => {
    const profile = { givenName: 'Fuzz', familyName: 'Target' };
    const set = ++sets;
    const withOtp = await create({ profile, email: { email: `otp${set}@example.com`, isVerified: true } });
    assert.equal((await server.request('POST', `/v2/users/${withOtp}/otp_email`, { token: admin, body: {} })).status, 200);
    const unverified = await create({ profile, email: { email: `unverified${set}@example.com` } });
    const deleted = await create({ profile, email: { email: `deleted${set}@example.com`, isVerified: true } });
    assert.equal((await server.request('DELETE', `/v2/users/${deleted}`, { token: admin })).status, 200);
    const inOrg2 = await create({ organization: { orgId: 'org-2' }, profile, email: { email: `two${set}@example.com` } });
    return [withOtp, unverified, deleted, inOrg2, 'admin-1'];
  };
  /** More users than a run's calls delete, so that RPC calls reach the rules until the end. */
  const rpcTargetUsers = async (): Promise<string[]> => {
    const users = await targetUsers();
    const profile = { givenName: 'Rpc', familyName: 'Target' };
    for (let i = 0; i < 12; i++) users.push(await create({ profile, email: { email: `rpc${sets}.${i}@example.com`, isVerified: true } }));
    return users;
  };

  before(async () => {
    server = await startServer();
    admin = await server.token({ sub: 'admin-1', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
    const profile = { givenName: 'Fuzz', familyName: 'Target' };
    knownUserIds = await targetUsers();
    // A user no generated request names: its reads must be the same at the end.
    const sentinelId = `sentinel-${Date.now()}`;
    await create({ userId: sentinelId, profile, email: { email: 'sentinel@example.com', isVerified: true } });
    sentinel = { id: sentinelId, before: (await server.request('GET', `/v2/users/${sentinelId}`, { token: admin })).text };

    const key = await loadOrCreateDevKey(server.dataDir);
    const foreign = await generateKeyPair(DEV_KEY_ALG);
    const claims = { 'urn:zitadel:iam:org:project:roles': { IAM_OWNER: { 'org-1': 'org-1.localhost' } } };
    const signed = (builder: SignJWT, withKid = true) =>
      builder.setProtectedHeader({ alg: DEV_KEY_ALG, ...(withKid ? { kid: key.kid } : {}) });
    fixedTokens = [
      await server.token({ sub: 'admin-1', org: 'org-1', roles: { IAM_OWNER: ['org-1'] }, expiresIn: '-2h' }),
      await signed(new SignJWT(claims).setIssuer(DEV_ISSUER).setSubject('admin-1').setExpirationTime('1h'))
        .sign(foreign.privateKey),
      await signed(new SignJWT(claims).setIssuer('https://elsewhere.example').setSubject('admin-1').setExpirationTime('1h'))
        .sign(key.privateKey),
      await signed(new SignJWT(claims).setIssuer(DEV_ISSUER).setSubject('admin-1')).sign(key.privateKey),
      await signed(new SignJWT(claims).setIssuer(DEV_ISSUER).setExpirationTime('1h')).sign(key.privateKey),
      await signed(new SignJWT(claims).setIssuer(DEV_ISSUER).setSubject('admin-1').setNotBefore('2h').setExpirationTime('3h'))
        .sign(key.privateKey),
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: DEV_ISSUER, sub: 'admin-1', exp: 9999999999, ...claims })}.`,
      `${b64({ alg: 'HS256', kid: key.kid })}.${b64({ iss: DEV_ISSUER, sub: 'admin-1', exp: 9999999999 })}.c2ln`,
      'a.b.c',
      '....',
    ];
    // Valid tokens with random subjects, organizations and roles; signed up front, as signing
    // one per request would make the run slower, not harder for the service.
    const randomClaims = fc.record({
      sub: fc.oneof(fc.constantFrom(...knownUserIds), fc.string({ minLength: 1, maxLength: 20 })),
      org: fc.option(fc.constantFrom(...ORGS.filter(Boolean)), { nil: undefined }),
      roles: fc.dictionary(fc.constantFrom(...ROLES), fc.array(fc.constantFrom(...ORGS.filter(Boolean)), { maxLength: 2 }), {
        maxKeys: 3,
      }),
    });
    validTokens = await Promise.all(fc.sample(randomClaims, 150).map((claims) => server.token(claims)));
    const prototypeNames = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];
    const oddClaims = fc.record(
      {
        sub: fc.oneof(fc.constantFrom(...knownUserIds, ...prototypeNames), fc.string({ maxLength: 20 }), fc.anything()),
        [RESOURCE_OWNER_CLAIM]: fc.oneof(fc.constantFrom(...ORGS, ...prototypeNames), fc.anything()),
        [ROLES_CLAIM]: fc.oneof(
          fc.dictionary(
            fc.constantFrom(...ROLES, ...prototypeNames),
            fc.oneof(fc.dictionary(fc.constantFrom(...ORGS, ...prototypeNames), fc.anything(), { maxKeys: 3 }), fc.anything()),
            { maxKeys: 4 },
          ),
          fc.anything(),
        ),
      },
      { requiredKeys: ['sub'] },
    );
    oddClaimTokens = await Promise.all(
      fc.sample(oddClaims, 150).map((claims) =>
        signed(new SignJWT(claims as JWTPayload).setIssuer(DEV_ISSUER).setExpirationTime('2h')).sign(key.privateKey),
      ),
    );
    events = await eventCounter(server);
    proto = { UserService: (await import('@zitadel/proto/zitadel/user/v2/user_service_pb.js')).UserService };
  });

  after(async () => {
    await events?.close();
    await stopAll();
  });

  const eventCount = () => events.count();
  const assertNoErrorLogged = () => {
    const errors = server.logs().split('\n').filter((line) => /"level":"(error|fatal)"/.test(line));
    assert.deepEqual(errors.slice(0, 3).map((line) => line.slice(0, 1500)), [], 'the server logged an error');
  };

  /** What every protocol's requests are made of: user ids, request shapes and Authorization headers. */
  const arbitraries = () => {
    const userId = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...knownUserIds) },
      { weight: 2, arbitrary: fc.string({ maxLength: 30 }).map(encodeURIComponent) },
      { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }).map(encodeURIComponent) },
      { weight: 1, arbitrary: fc.stringMatching(/^\d{1,25}$/) },
      { weight: 1, arbitrary: fc.integer({ min: 195, max: 260 }).map((n) => 'a'.repeat(n)) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('', '%00', '%zz', '%2F', '..', '.', '%', 'null', '__proto__', 'constructor', '%F0%9F%98%80'),
      },
    );
    const validBodyish = fc.record(
      {
        userId: fc.oneof(userId, fc.anything()),
        organization: fc.oneof(fc.record({ orgId: fc.oneof(fc.constantFrom(...ORGS), fc.anything()) }), fc.anything()),
        username: fc.oneof(fc.string({ maxLength: 210 }), fc.anything()),
        profile: fc.oneof(
          fc.record({ givenName: fc.string({ maxLength: 210 }), familyName: fc.oneof(fc.string(), fc.integer()) }, { requiredKeys: [] }),
          fc.anything(),
        ),
        email: fc.oneof(
          fc.record({ email: fc.oneof(fc.emailAddress(), fc.string()), isVerified: fc.oneof(fc.boolean(), fc.string(), fc.integer()) }, { requiredKeys: [] }),
          fc.emailAddress(),
          fc.anything(),
        ),
        isVerified: fc.anything(),
        authFactors: fc.oneof(fc.array(fc.oneof(fc.constantFrom('OTP_EMAIL', 'OTP', 'U2F', 'NOPE'), fc.integer({ min: -2, max: 9 }))), fc.anything()),
        states: fc.oneof(fc.array(fc.oneof(fc.constantFrom('AUTH_FACTOR_STATE_READY', 'X'), fc.integer({ min: -1, max: 5 }))), fc.anything()),
      },
      { requiredKeys: [] },
    );
    const authorization = fc.oneof(
      { weight: 2, arbitrary: fc.constant(undefined) },
      { weight: 5, arbitrary: fc.constantFrom(...validTokens).map((token) => `Bearer ${token}`) },
      { weight: 2, arbitrary: fc.constantFrom(...fixedTokens).map((token) => `Bearer ${token}`) },
      { weight: 2, arbitrary: fc.constantFrom(...oddClaimTokens).map((token) => `Bearer ${token}`) },
      {
        weight: 1,
        arbitrary: fc.oneof(
          headerText(80).map((text) => `Bearer ${text}`),
          headerText(80),
          fc.constantFrom('Bearer', 'Bearer ', 'bearer', 'Basic YWRtaW46YWRtaW4=', 'Bearer  a.b', 'Token abc'),
        ),
      },
    );
    return { userId, validBodyish, authorization };
  };

  it('writes nothing for an AddHumanUser refused because its id is taken, whatever name it asks for', async () => {
    const taken = await create({ profile: { givenName: 'Taken', familyName: 'Id' }, email: { email: 'taken.id@example.com' }, organization: { orgId: 'org-1' } });
    const before = await eventCount();
    for (const [i, organization] of [{ orgId: 'org-1' }, { orgId: 'org-2' }].entries()) {
      const response = await server.request('POST', '/v2/users/human', {
        token: admin,
        body: { userId: taken, profile: { givenName: 'A', familyName: 'B' }, email: { email: `free.name.${i}@example.com` }, organization },
      });
      assert.equal(response.status, 409, response.text);
      assert.equal(response.body.details[0].id, 'COMMAND-k2unb');
    }
    assert.equal(await eventCount(), before, 'the refusal reserved and released a name');
  });

  it(`survives ${RUNS} generated requests`, async (t) => {
    const { userId, validBodyish, authorization } = arbitraries();
    const fill = (route: string) =>
      fc.array(userId, { minLength: 2, maxLength: 2 }).map(([a, b]) => route.replace('{id}', a).replace('{id}', b));
    const target = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.constantFrom(...API_ROUTES).chain(([method, route]) => fill(route).map((path) => ({ method, path }))),
      },
      {
        weight: 3,
        arbitrary: fc.record({ method: fc.constantFrom(...METHODS), path: fc.constantFrom(...ROUTES).chain(fill) }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          method: fc.constantFrom(...METHODS),
          path: fc.oneof(
            fc.webPath(),
            fc.array(fc.string({ maxLength: 12 }).map(encodeURIComponent), { maxLength: 6 }).map((s) => `/${s.join('/')}`),
          ),
        }),
      },
    );
    const query = fc.option(
      fc.oneof(fc.webQueryParameters().map((q) => `?${q}`), fc.constantFrom('?', '?a=1&a=2', '?%zz', '?__proto__[x]=1')),
      { freq: 4 },
    );
    const body = fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 4, arbitrary: validBodyish.map((value) => JSON.stringify(value)) },
      { weight: 2, arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          '{"__proto__":{"isAdmin":true},"profile":{"givenName":"a","familyName":"b"},"email":{"email":"p@example.com"}}',
          '{"constructor":{"prototype":{"x":1}}}',
          '{"email":',
          '[' .repeat(5000) + ']'.repeat(5000),
          '{"a":' .repeat(3000) + '1' + '}'.repeat(3000),
          'null',
          '"string"',
          '1e999',
          '\u0000',
          `{"padding":"${'x'.repeat(70 * 1024)}"}`,
        ),
      },
    );
    const contentType = fc.option(
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/json; charset=utf-16',
        '*/*',
        'garbage',
      ),
      { freq: 5 },
    );
    const extraHeaders = fc.record(
      {
        'x-request-id': fc.oneof(headerText(140), fc.uuid()),
        accept: fc.constantFrom('*/*', 'text/html', 'application/xml', 'application/grpc-web+proto'),
        'x-forwarded-for': fc.constantFrom('1.2.3.4', 'not-an-ip', '::1, 10.0.0.1'),
        origin: headerText(30),
      },
      { requiredKeys: [] },
    );
    const generated = fc
      .record({ target, query, body, contentType, authorization, extraHeaders })
      .map(({ target: { method, path }, ...rest }) => ({ method, path, ...rest }));

    await assertShortly(fc.assert(
      fc.asyncProperty(generated, async (input) => {
        const headers: Record<string, string> = { ...input.extraHeaders };
        if (input.contentType) headers['content-type'] = input.contentType;
        if (input.authorization !== undefined) headers.authorization = input.authorization;
        const sendsBody = input.body !== undefined && !['GET', 'HEAD'].includes(input.method);
        const eventsBefore = await eventCount();
        const response = await send(server.url, input.method, input.path + (input.query ?? ''), headers, sendsBody ? input.body : undefined);
        sent++;
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        const context = `${input.method} ${input.path}${input.query ?? ''}`;
        assert.ok(response.status < 500 || response.status === 501, `${context} answered ${response.status}: ${response.text.slice(0, 300)}`);
        if (response.status >= 400) {
          if (input.method !== 'HEAD') assertContractError(response, context);
          assert.equal(await eventCount(), eventsBefore, `${context} was rejected with ${response.status} but changed the store`);
        }
      }),
      { numRuns: RUNS, endOnFailure: true },
    ));

    t.diagnostic(`${sent} requests; answers by status: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
    assert.ok(sent >= RUNS, `only ${sent} requests were sent`);
    // The generators must reach the service's rules, not only its edge.
    const rejected = [...statuses].filter(([status]) => status >= 400).reduce((sum, [, n]) => sum + n, 0);
    assert.ok((statuses.get(200) ?? 0) > RUNS / 100, `too few requests got through: ${JSON.stringify([...statuses])}`);
    for (const status of [400, 401, 403, 404]) assert.ok((statuses.get(status) ?? 0) > 0, `no ${status} among ${JSON.stringify([...statuses])}`);
    assert.ok(rejected > RUNS / 2);
    assertNoErrorLogged();
  });

  /**
   * The request messages of RPC calls: made from the same shapes as REST bodies, as the protocol's
   * JSON, as protobuf bytes when the shape is a message at all, or as bytes that are none.
   */
  const rpcArbitraries = (users: string[]) => {
    const { validBodyish, authorization } = arbitraries();
    const implemented = ['AddHumanUser', 'SetEmail', 'AddOTPEmail', 'RemoveOTPEmail', 'GetUserByID', 'ListAuthenticationFactors', 'DeleteUser'];
    const method = fc.oneof(
      { weight: 12, arbitrary: fc.constantFrom(...implemented) },
      { weight: 1, arbitrary: fc.constantFrom(...proto.UserService.methods.map((m) => m.name)) },
      { weight: 1, arbitrary: fc.constantFrom('Nope', 'getUserByID', '', '__proto__') },
    );
    const randomBytes = fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes));
    const inputOf = (name: string) => proto.UserService.methods.find((m) => m.name === name)?.input;
    /** The shape as a message of the method's input type, or random bytes when it is not one. */
    const binaryOf = (name: string, shape: unknown, fallback: Buffer): Buffer => {
      try {
        return Buffer.from(toBinary(inputOf(name)!, fromJson(inputOf(name)!, shape as JsonValue, { ignoreUnknownFields: true })));
      } catch {
        return fallback;
      }
    };
    /** The shape's fields of the method's input type as its JSON, or the shape as it is when it is not one. */
    const jsonOf = (name: string, shape: unknown): Buffer => {
      try {
        return Buffer.from(JSON.stringify(toJson(inputOf(name)!, fromJson(inputOf(name)!, shape as JsonValue, { ignoreUnknownFields: true }))));
      } catch {
        return Buffer.from(JSON.stringify(shape));
      }
    };
    /** Mostly a user the store knows, so that calls reach the rules and not only the edge. */
    const shape = fc
      .record({ body: validBodyish, userId: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...users) }, { weight: 1, arbitrary: fc.constant(undefined) }) })
      .map(({ body, userId }) => (userId === undefined ? body : { ...body, userId }));
    const message = fc
      .record({ name: method, shape, fallback: randomBytes, format: fc.constantFrom('json', 'binary', 'binary', 'binary', 'bytes', 'odd-json') })
      .map(({ name, shape, fallback, format }) => {
        const bytes =
          format === 'json' ? jsonOf(name, shape)
          : format === 'binary' ? binaryOf(name, shape, fallback)
          : format === 'odd-json' ? Buffer.from(['{', '[]', '{"userId":{"a":1}}', '{"userId":"\\ud800"}', 'null'][fallback.length % 5])
          : fallback;
        return { name, json: format === 'json' || format === 'odd-json', bytes };
      });
    // An IAM owner's token more often than REST's mix gives one, so that enough calls pass every check.
    return { authorization: fc.oneof({ weight: 1, arbitrary: fc.constant(`Bearer ${admin}`) }, { weight: 3, arbitrary: authorization }), message };
  };

  /** An RPC answer must say what went wrong with a status of its own: never INTERNAL (13) or UNKNOWN (2), never a 500. */
  const assertRpcAnswer = async (context: string, grpcStatus: number | undefined, eventsBefore: number) => {
    assert.notEqual(grpcStatus, undefined, `${context}: no gRPC status`);
    assert.ok(![2, 13].includes(grpcStatus!), `${context} answered gRPC status ${grpcStatus}`);
    if (grpcStatus !== 0) assert.equal(await eventCount(), eventsBefore, `${context} was refused with ${grpcStatus} but changed the store`);
  };

  it(`survives ${RUNS} generated Connect calls`, async (t) => {
    const { authorization, message } = rpcArbitraries(await rpcTargetUsers());
    const contentType = fc.oneof(
      { weight: 8, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constantFrom('application/connect+json', 'text/plain', 'application/proto; charset=x', 'garbage') },
    );
    const codes = new Map<string, number>();
    let calls = 0;
    await assertShortly(fc.assert(
      fc.asyncProperty(fc.record({ message, authorization, contentType, get: fc.integer({ min: 0, max: 9 }).map((n) => n === 0) }), async ({ message, authorization, contentType, get }) => {
        const headers: Record<string, string> = {
          'content-type': contentType ?? (message.json ? 'application/json' : 'application/proto'),
          'connect-protocol-version': '1',
        };
        if (authorization !== undefined) headers.authorization = authorization;
        const eventsBefore = await eventCount();
        const path = `/zitadel.user.v2.UserService/${message.name}`;
        const response = get
          ? await send(server.url, 'GET', `${path}?encoding=json&message=${encodeURIComponent(message.bytes.toString())}`, headers)
          : await send(server.url, 'POST', path, headers, message.bytes as unknown as string);
        calls++;
        const code = response.status === 200 ? 'ok' : String(response.body?.code);
        codes.set(code, (codes.get(code) ?? 0) + 1);
        const context = `Connect ${message.name} (${headers['content-type']})`;
        assert.ok(response.status < 500 || response.status === 501, `${context} answered ${response.status}: ${response.text.slice(0, 300)}`);
        assert.notEqual(response.body?.code, 'internal', `${context} answered internal: ${response.text.slice(0, 300)}`);
        if (response.status !== 200) {
          assert.equal(typeof response.body?.message, 'string', `${context}: ${response.text.slice(0, 300)}`);
          assert.equal(await eventCount(), eventsBefore, `${context} was refused with ${response.status} but changed the store`);
        }
      }),
      { numRuns: RUNS, endOnFailure: true },
    ));
    t.diagnostic(`${calls} Connect calls; answers by code: ${JSON.stringify(Object.fromEntries(codes))}`);
    assert.ok(calls >= RUNS);
    for (const code of ['ok', 'unauthenticated', 'invalid_argument', 'permission_denied']) {
      assert.ok((codes.get(code) ?? 0) > 0, `no ${code} among ${JSON.stringify([...codes])}`);
    }
    assertNoErrorLogged();
  });

  it(`survives ${RUNS} generated gRPC calls, and gRPC-web ones`, async (t) => {
    const { authorization, message } = rpcArbitraries(await rpcTargetUsers());
    const frame = fc.constantFrom('enveloped', 'enveloped', 'enveloped', 'raw', 'compressed-flag', 'short-length', 'empty');
    const metadata = fc.oneof(
      { weight: 3, arbitrary: fc.constant({}) },
      {
        weight: 1,
        arbitrary: fc.record(
          {
            'grpc-timeout': fc.constantFrom('1S', '5m', 'x', '99999999999H', '0n'),
            'grpc-encoding': fc.constantFrom('gzip', 'identity', 'br', 'nope'),
            'x-request-id': headerText(40),
          },
          { requiredKeys: [] },
        ),
      },
    );
    const generated = fc.record({ message, authorization, frame, metadata });
    const statuses = new Map<number, number>();
    const perProtocol = { grpc: 0, 'grpc-web': 0 };
    const session = await openSession(server.grpcUrl);
    try {
      await assertShortly(fc.assert(
        fc.asyncProperty(generated, async ({ message, authorization, frame, metadata }) => {
          const bytes =
            frame === 'enveloped' ? envelope(message.bytes)
            : frame === 'compressed-flag' ? Buffer.concat([Buffer.from([1]), envelope(message.bytes).subarray(1)])
            : frame === 'short-length' ? envelope(message.bytes).subarray(0, Math.max(0, message.bytes.length))
            : frame === 'empty' ? Buffer.alloc(0)
            : message.bytes;
          // Every fifth call is gRPC-web on the HTTP port.
          const protocol = (perProtocol.grpc + perProtocol['grpc-web']) % 5 === 4 ? 'grpc-web' : 'grpc';
          const headers: Record<string, string> = {
            ...metadata,
            'content-type': `application/${protocol}${message.json ? '+json' : '+proto'}`,
          };
          if (authorization !== undefined) headers.authorization = authorization;
          const path = `/zitadel.user.v2.UserService/${message.name}`;
          const context = `${protocol} ${message.name} (${frame}, ${headers['content-type']})`;
          const eventsBefore = await eventCount();
          let grpcStatus: number | undefined;
          if (protocol === 'grpc') {
            grpcStatus = (await call(session, headers, bytes, path)).grpcStatus;
          } else {
            const response = await fetch(server.url + path, { method: 'POST', headers, body: bytes, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
            const text = Buffer.from(await response.arrayBuffer()).toString('latin1');
            assert.ok(response.status < 500 || response.status === 501, `${context} answered HTTP ${response.status}`);
            const status = response.headers.get('grpc-status') ?? /grpc-status:\s*(\d+)/i.exec(text)?.[1];
            grpcStatus = status === undefined || status === null ? undefined : Number(status);
            // A path that is no method on the HTTP port is the REST edge's 404, which gRPC-web clients read as UNIMPLEMENTED.
            if (grpcStatus === undefined && response.status === 404 && JSON.parse(text).code === 5) grpcStatus = 12;
          }
          perProtocol[protocol]++;
          statuses.set(grpcStatus ?? -1, (statuses.get(grpcStatus ?? -1) ?? 0) + 1);
          await assertRpcAnswer(context, grpcStatus, eventsBefore);
        }),
        { numRuns: Math.ceil(RUNS * 1.25), endOnFailure: true },
      ));
    } finally {
      session.close();
    }
    t.diagnostic(`${JSON.stringify(perProtocol)} calls; answers by gRPC status: ${JSON.stringify(Object.fromEntries(statuses))}`);
    assert.ok(perProtocol.grpc >= RUNS, `only ${perProtocol.grpc} gRPC calls`);
    for (const status of [0, 3, 7, 16]) assert.ok((statuses.get(status) ?? 0) > 0, `no status ${status} among ${JSON.stringify([...statuses])}`);
    assertNoErrorLogged();
  });

  it('left the user no request named as it was', async () => {
    const admin = await server.token({ sub: 'admin-1', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
    assert.equal((await server.request('GET', `/v2/users/${sentinel.id}`, { token: admin })).text, sentinel.before);
    assert.equal((await server.request('GET', '/readyz')).status, 200);
  });
});
