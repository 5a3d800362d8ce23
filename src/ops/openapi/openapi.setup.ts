import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ErrorDetail, RpcStatus } from '../../http-edge/rpc-status.schema';

export const OPENAPI_JSON_PATH = '/openapi.json';
export const DOCS_PATH = '/docs';
export const BEARER = 'bearer';

type Operation = NonNullable<OpenAPIObject['paths'][string]['get']>;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

const STATUS_REF = { $ref: '#/components/schemas/google.rpc.Status' };
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: STATUS_REF } } });

/** The errors every endpoint behind a token can answer (API.md, Errors); texts in quotes are ZITADEL's. */
const TOKEN_ENDPOINT_ERRORS: Record<string, string> = {
  '400':
    'The request is malformed: a body that is not a JSON object, a field of the wrong type or value, or an empty ' +
    'or too long user id (code 3, naming the field); or a precondition of the endpoint fails (code 9).',
  '401': 'No `Authorization: Bearer` header (AUTH-7fs1e), or the token is invalid (AUTH-7fs1f).',
  '403': 'Returned when the user does not have permission to access the resource.',
  '404': 'Returned when the resource does not exist.',
  '429': 'Too many requests from this caller (code 8); only when RATE_LIMIT_PER_MINUTE is set. Retry-After says when to retry.',
  '503': 'The event store is unavailable (code 14); the request changed nothing and may be retried.',
};
const DEFAULT_ERROR = 'An unexpected error response.';

/**
 * The OpenAPI 3 document of every endpoint, built from the controllers' decorators. What the
 * contract says for all endpoints at once (the bearer token, the error body and the errors any
 * endpoint behind a token can answer) is added here, so that no endpoint can miss it.
 */
export function buildOpenApiDocument(app: INestApplication, version: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setOpenAPIVersion('3.0.3')
    .setTitle('mfa-service')
    .setDescription(
      "Second factors of users, speaking the REST form of ZITADEL's user service v2. Every endpoint under /v2 and " +
        '/admin needs `Authorization: Bearer <JWT>`; every error answers a google.rpc.Status body.',
    )
    .setVersion(version)
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          'A JWT from the OIDC issuer (OIDC_ISSUER): `sub` is the caller, roles are in urn:zitadel:iam:org:project:roles.',
      },
      BEARER,
    )
    .addSecurityRequirements(BEARER)
    .addTag('UserService', "ZITADEL's user service v2: users and their OTP Email factor")
    .addTag('Operations', 'Health, metrics and this documentation; no token needed')
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    extraModels: [RpcStatus, ErrorDetail],
    operationIdFactory: (_controller, method) => method,
  });
  addContractErrors(document);
  addDocumentationPaths(document);
  return document;
}

/** Serves the document at /openapi.json and Swagger UI at /docs. */
export function setupOpenApi(app: INestApplication, version: string): OpenAPIObject {
  const document = buildOpenApiDocument(app, version);
  SwaggerModule.setup(DOCS_PATH, app, document, {
    jsonDocumentUrl: OPENAPI_JSON_PATH,
    raw: ['json'],
    customSiteTitle: 'mfa-service API',
  });
  return document;
}

function addContractErrors(document: OpenAPIObject): void {
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method] as Operation | undefined;
      if (!operation) continue;
      const security = operation.security ?? document.security ?? [];
      if (security.length > 0) {
        for (const [status, description] of Object.entries(TOKEN_ENDPOINT_ERRORS)) {
          operation.responses[status] ??= errorResponse(description);
        }
      }
      operation.responses.default ??= errorResponse(DEFAULT_ERROR);
    }
  }
}

/** The two routes SwaggerModule serves itself, which no controller declares. */
function addDocumentationPaths(document: OpenAPIObject): void {
  document.paths[OPENAPI_JSON_PATH] = {
    get: {
      operationId: 'OpenAPIDocument',
      tags: ['Operations'],
      summary: 'This OpenAPI document',
      security: [],
      responses: {
        '200': {
          description: 'The OpenAPI 3 document of every endpoint.',
          content: { 'application/json': { schema: { type: 'object' } } },
        },
        default: errorResponse(DEFAULT_ERROR),
      },
    },
  };
  document.paths[DOCS_PATH] = {
    get: {
      operationId: 'Documentation',
      tags: ['Operations'],
      summary: 'Swagger UI for this document',
      description: `Its scripts and styles are served under ${DOCS_PATH}/.`,
      security: [],
      responses: {
        '200': { description: 'The Swagger UI page.', content: { 'text/html': { schema: { type: 'string' } } } },
        default: errorResponse(DEFAULT_ERROR),
      },
    },
  };
}
