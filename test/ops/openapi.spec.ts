import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/config';
import { createApp } from '../../src/main';
import { openApiShapeProblems, resolveRef } from './support/openapi-shape';
import { ServedRoute, parsePrintedRoutes, toOpenApiPath } from './support/served-routes';

/**
 * Routes that are not part of the REST API the document describes:
 * - Connect and gRPC-web (POST /zitadel.user.v2.UserService/<Method>): RPC, described by ZITADEL's
 *   protobuf definitions, not by REST paths;
 * - the Swagger UI page's scripts and styles, and its trailing-slash alias, under /docs/ (the page
 *   /docs itself is documented).
 */
const NOT_REST = [/^\/zitadel\.[\w.]+\//, /^\/docs\//];

const METHODS_OF_DOCUMENT = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** The contract's endpoints (API.md) and the status of their success. */
const CONTRACT = [
  { method: 'post', path: '/v2/users/human', operationId: 'AddHumanUser', body: true },
  { method: 'post', path: '/v2/users/{userId}/email', operationId: 'SetEmail', body: true },
  { method: 'delete', path: '/v2/users/{userId}', operationId: 'DeleteUser', body: false },
  { method: 'post', path: '/v2/users/{userId}/otp_email', operationId: 'AddOTPEmail', body: true },
  { method: 'delete', path: '/v2/users/{userId}/otp_email', operationId: 'RemoveOTPEmail', body: false },
  { method: 'get', path: '/v2/users/{userId}', operationId: 'GetUserByID', body: false },
  {
    method: 'post',
    path: '/v2/users/{userId}/authentication_factors/_search',
    operationId: 'ListAuthenticationFactors',
    body: true,
  },
];

describe('the OpenAPI document at /openapi.json', () => {
  let app: NestFastifyApplication;
  let dataDir: string;
  let served: ServedRoute[];
  let doc: any;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mfa-openapi-'));
    app = await createApp(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'error', PORT: '0', GRPC_PORT: '0' }));
    const fastify = app.getHttpAdapter().getInstance();
    await fastify.ready();
    served = parsePrintedRoutes(fastify.printRoutes({ commonPrefix: false }));
    const response = await fastify.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(response.statusCode, 200, response.body);
    doc = JSON.parse(response.body);
  });

  after(async () => {
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('is a structurally valid OpenAPI 3 document', () => {
    assert.match(doc.openapi, /^3\./);
    assert.deepEqual(openApiShapeProblems(doc), []);
  });

  it('documents every REST route the app serves, and only those', () => {
    // The parser must see the routes we know of, or the comparison below would prove nothing.
    for (const known of ['GET /healthz', 'DELETE /v2/users/:userId/otp_email', 'GET /openapi.json']) {
      assert.ok(served.some((r) => `${r.method} ${r.url}` === known), `printRoutes shows no ${known}`);
    }
    const rest = served.filter((r) => !NOT_REST.some((pattern) => pattern.test(r.url)));
    const undocumented = rest
      // Fastify answers HEAD for every GET route by itself.
      .filter((r) => !(r.method === 'HEAD' && rest.some((o) => o.url === r.url && o.method === 'GET')))
      .filter((r) => !doc.paths[toOpenApiPath(r.url)]?.[r.method.toLowerCase()])
      .map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(undocumented, [], 'served but not in the document');

    const phantoms: string[] = [];
    for (const [path, item] of Object.entries<Record<string, unknown>>(doc.paths)) {
      for (const method of Object.keys(item).filter((key) => METHODS_OF_DOCUMENT.includes(key))) {
        if (!rest.some((r) => toOpenApiPath(r.url) === path && r.method.toLowerCase() === method)) {
          phantoms.push(`${method.toUpperCase()} ${path}`);
        }
      }
    }
    assert.deepEqual(phantoms, [], 'in the document but not served');
  });

  it('puts every endpoint under /v2 and /admin behind the bearer token, and the others not', () => {
    const scheme = doc.components.securitySchemes[Object.keys(doc.security?.[0] ?? {})[0] ?? ''];
    assert.equal(scheme?.type, 'http');
    assert.equal(scheme?.scheme, 'bearer');
    for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [method, operation] of Object.entries<any>(item)) {
        const security = operation.security ?? doc.security ?? [];
        const needsToken = /^\/(v2|v2beta|admin)\//.test(path);
        assert.equal(security.length > 0, needsToken, `${method.toUpperCase()} ${path}: security ${JSON.stringify(security)}`);
        if (needsToken) assert.ok(operation.responses['401'], `${method.toUpperCase()} ${path} does not describe its 401`);
      }
    }
  });

  it('describes every error with google.rpc.Status and its zitadel.v1.ErrorDetail', () => {
    const status = doc.components.schemas['google.rpc.Status'];
    assert.deepEqual(Object.keys(status.properties).sort(), ['code', 'details', 'message']);
    assert.equal(status.properties.code.type, 'integer');
    const detail = resolveRef(doc, status.properties.details.items.$ref) as any;
    assert.deepEqual(Object.keys(detail.properties).sort(), ['@type', 'id', 'message']);
    for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [method, operation] of Object.entries<any>(item)) {
        assert.ok(operation.responses.default, `${method.toUpperCase()} ${path} has no default (error) response`);
        for (const [code, response] of Object.entries<any>(operation.responses)) {
          if (code !== 'default' && Number(code) < 400) continue;
          assert.equal(
            response.content?.['application/json']?.schema?.$ref,
            '#/components/schemas/google.rpc.Status',
            `${method.toUpperCase()} ${path} ${code}`,
          );
        }
      }
    }
  });

  it("describes the request and response bodies of the contract's endpoints", () => {
    for (const { method, path, operationId, body } of CONTRACT) {
      const operation = doc.paths[path]?.[method];
      assert.ok(operation, `${method.toUpperCase()} ${path} is not documented`);
      assert.equal(operation.operationId, operationId);
      assert.ok(operation.summary && operation.description, `${operationId} needs a summary and a description`);
      const ok = resolveRef(doc, operation.responses['200']?.content?.['application/json']?.schema?.$ref ?? '') as any;
      assert.equal(ok?.type, 'object', `${operationId}: no schema for its 200`);
      if (operationId !== 'ListAuthenticationFactors') assert.ok(ok.properties.details, `${operationId}: no details`);
      if (body) {
        const schema = resolveRef(doc, operation.requestBody?.content?.['application/json']?.schema?.$ref ?? '') as any;
        assert.equal(schema?.type, 'object', `${operationId}: no request body schema`);
      } else {
        assert.equal(operation.requestBody, undefined, `${operationId} takes no body`);
      }
    }
    const addHuman = resolveRef(doc, doc.paths['/v2/users/human'].post.requestBody.content['application/json'].schema.$ref) as any;
    assert.deepEqual(addHuman.required.sort(), ['email', 'profile']);
    const profile = resolveRef(doc, addHuman.properties.profile.$ref) as any;
    assert.deepEqual(profile.required.sort(), ['familyName', 'givenName']);
    const user = resolveRef(doc, doc.paths['/v2/users/{userId}'].get.responses['200'].content['application/json'].schema.$ref) as any;
    assert.ok(resolveRef(doc, user.properties.user.$ref), 'GetUserByID: no user schema');
  });

  it("uses the texts of ZITADEL's API page for RemoveOTPEmail and the details", () => {
    const remove = doc.paths['/v2/users/{userId}/otp_email'].delete;
    assert.equal(remove.summary, 'Remove One-Time-Password (OTP) Email from a user');
    assert.equal(
      remove.description,
      'Remove the configured One-Time-Password (OTP) Email factor of the authenticated user. As only one OTP Email ' +
        'per user is allowed, the user will not have OTP Email as a second-factor afterward.',
    );
    assert.equal(remove.responses['200'].description, 'OK');
    assert.equal(remove.responses['403'].description, 'Returned when the user does not have permission to access the resource.');
    assert.equal(remove.responses['404'].description, 'Returned when the resource does not exist.');
    assert.equal(remove.responses.default.description, 'An unexpected error response.');
    const details = doc.components.schemas['zitadel.object.v2.Details'];
    assert.match(details.properties.sequence.description, /^on read: the sequence of the last event reduced by the projection\n/);
    assert.match(details.properties.changeDate.description, /^on read: the timestamp of the last event reduced by the projection\n/);
    assert.equal(details.properties.sequence.example, '2');
    assert.equal(details.properties.changeDate.format, 'date-time');
  });
});

describe('the structural check of OpenAPI documents', () => {
  const valid = {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/a/{id}': {
        get: {
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { description: 'OK', content: { 'application/json': { schema: { $ref: '#/components/schemas/A' } } } } },
        },
      },
    },
    components: { schemas: { A: { type: 'object', properties: { x: { type: 'string' } }, required: ['x'] } } },
  };
  const broken = (change: (doc: any) => void) => {
    const doc = structuredClone(valid) as any;
    change(doc);
    return openApiShapeProblems(doc);
  };

  it('accepts a small valid document', () => assert.deepEqual(openApiShapeProblems(valid), []));

  it('finds what is wrong', () => {
    assert.equal(broken((d) => (d.openapi = '2.0')).length, 1);
    assert.equal(broken((d) => delete d.info.title).length, 1);
    assert.equal(broken((d) => (d.paths['/a/{id}'].get.responses = {})).length, 1);
    assert.equal(broken((d) => (d.paths['/a/{id}'].get.responses['200'].content['application/json'].schema.$ref = '#/components/schemas/B')).length, 1);
    assert.equal(broken((d) => (d.paths['/a/{id}'].get.parameters = [])).length, 1);
    assert.equal(broken((d) => (d.components.schemas.A.required = ['y'])).length, 1);
    assert.equal(broken((d) => (d.components.schemas.A.properties.x.type = 'text')).length, 1);
    assert.equal(broken((d) => (d.paths['/a/{id}'].get.security = [{ missing: [] }])).length, 1);
  });
});
