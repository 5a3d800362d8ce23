import rateLimit from '@fastify/rate-limit';
import { HttpException, HttpStatus } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import helmet, { HelmetOptions } from 'helmet';
import { existsSync, readFileSync } from 'node:fs';
import { IncomingMessage, STATUS_CODES, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { TokenVerifier } from '../auth/token-verifier';
import type { Config, HttpLimits } from '../config/config';
import { UNMATCHED_ROUTE } from './metrics/metrics.service';
import { RequestRecorder } from './logging/request.recorder';
import { REQUEST_ID_HEADER } from '../http-edge/request-id';
import { limitJsonDepth } from './protection/json-depth';

/** Probes and scrapes come from the orchestrator and Prometheus, often and by design: never limited. */
const UNLIMITED_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** Headers may take at most this long even without HTTP_REQUEST_TIMEOUT_MS (Node's default). */
const HEADERS_TIMEOUT_MS = 60_000;

/** Fastify's server options that protect it from large bodies and slow clients. */
export function httpServerOptions(limits: HttpLimits) {
  return {
    bodyLimit: limits.bodyLimitBytes,
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.connectionTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: {
      headersTimeout: limits.requestTimeoutMs > 0 ? Math.min(HEADERS_TIMEOUT_MS, limits.requestTimeoutMs) : HEADERS_TIMEOUT_MS,
      // How often Node looks for requests over their time; its default of 30 s would let a slow
      // client hold a connection up to 30 s past HTTP_REQUEST_TIMEOUT_MS.
      connectionsCheckingInterval: 1000,
    },
    clientErrorHandler: answerClientError,
  };
}

/**
 * A request that never became one (malformed HTTP, headers too large, not sent in time) gets the
 * contract's error body too. No route or filter runs for it: Node found it before Fastify did.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, body] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, { code: 4, message: 'the request was not received in time (HTTP_REQUEST_TIMEOUT_MS)' }]
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [400, { code: 3, message: 'the request headers are too large' }]
        : [400, { code: 3, message: 'malformed HTTP request' }];
  const text = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(error);
}

/**
 * What runs around every request besides the API: security headers, the per-caller rate limit,
 * the nesting limit of bodies, and the one log line and the metrics of each request. Must run
 * before app.init(), so that the rate limit's hook reaches every route.
 */
export async function installOps(app: NestFastifyApplication, config: Config): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  const headers = serviceSecurityHeaders();
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers);
    // Every answer names its request, so that a client can find the log line. Set here for the
    // answers streamed by hand (SSE), and again on sending for those given before this hook runs
    // (a CORS preflight).
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  fastify.addHook('onSend', (request, reply, payload, done) => {
    if (!reply.hasHeader(REQUEST_ID_HEADER)) reply.header(REQUEST_ID_HEADER, request.id);
    done(null, payload);
  });
  if (config.http.rateLimitPerMinute > 0) {
    const verifier = app.get(TokenVerifier);
    await app.register(rateLimit, {
      max: config.http.rateLimitPerMinute,
      timeWindow: 60_000,
      keyGenerator: (request) => callerKey(request, verifier),
      allowList: (request) => UNLIMITED_ROUTES.has(request.routeOptions.url ?? ''),
      // Thrown, and turned into the contract's 429 code 8 by the exception filter.
      errorResponseBuilder: () => new HttpException('too many requests', HttpStatus.TOO_MANY_REQUESTS),
    });
  }
  limitJsonDepth(fastify);
  observeRequests(fastify, app.get(RequestRecorder));
}

/** The security headers of every answer, the router's refusals (frameworkErrors) included. */
export function serviceSecurityHeaders(): Record<string, string> {
  return securityHeaders({
    // The service may run behind a proxy that ends TLS, or on plain HTTP in development: upgrading
    // /docs' scripts to https would break the page there.
    contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } },
  });
}

/**
 * Helmet's security headers, worked out once: they depend on the options only, while helmet's
 * middleware (and @fastify/helmet, which builds it again for every request) works them out per
 * response, which showed up as 4% of a request in profiles.
 */
export function securityHeaders(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader: (name: string, value: string) => void (headers[name.toLowerCase()] = value),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  let failure: unknown;
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => (failure = error));
  if (failure) throw failure;
  return headers;
}

/** The caller a limit applies to: the subject of a valid token, else the client's address. */
async function callerKey(request: FastifyRequest, verifier: TokenVerifier): Promise<string> {
  try {
    return `sub:${(await verifier.callerFrom(request.headers.authorization)).userId}`;
  } catch {
    // No or no valid token: it will answer 401 unless it is limited first.
    return `ip:${request.ip}`;
  }
}

function observeRequests(fastify: FastifyInstance, recorder: RequestRecorder): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    recordRequest(recorder, request, reply);
    done();
  });
}

/** A request's log line and metrics, once it was answered. */
export function recordRequest(recorder: RequestRecorder, request: FastifyRequest, reply: FastifyReply): void {
  recorder.record({
    reqId: request.id,
    method: request.method,
    route: request.routeOptions?.url ?? UNMATCHED_ROUTE,
    url: request.originalUrl,
    statusCode: reply.statusCode,
    ms: reply.elapsedTime,
    failure: request.failure,
  });
}

/** The version in package.json, for the OpenAPI document. */
export function packageVersion(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? '0.0.0';
  }
  return '0.0.0';
}
