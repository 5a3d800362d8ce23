import { BeforeApplicationShutdown, Inject, Injectable, Logger } from '@nestjs/common';
import { Code, ConnectError } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { codeToHttpStatus } from '@connectrpc/connect/protocol-connect';
import {
  constants,
  createServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { REQUEST_ID_HEADER, requestIdFrom } from '../http-edge/request-id';
import { performance } from 'node:perf_hooks';
import type { HttpLimits } from '../config/config';
import { HTTP_STATUS_OF, StatusCode } from '../errors/service-error';
import { UNMATCHED_ROUTE } from '../ops/metrics/metrics.service';
import { RequestRecorder } from '../ops/logging/request.recorder';
import { FixedWindowLimiter } from '../ops/protection/fixed-window.limiter';
import { CLOCK, type Clock } from '../shared/clock';
import { ConnectRoutes } from './connect-routes';
import { type RpcRefusal } from './rpc-gate';

/** How long calls in flight may take to finish at shutdown before their connections are cut. */
const SHUTDOWN_GRACE_MS = 10_000;
/** A call whose client went away before it was answered, as the log line tells it (nginx's 499). */
const CLIENT_CLOSED = 499;

export interface GrpcListenOptions {
  port: number;
  host: string;
  /** The HTTP port's limits, which this port keeps too. */
  limits: HttpLimits;
}

/**
 * gRPC over HTTP/2 cleartext on its own port (GRPC_PORT), as ZITADEL's SDKs speak it, with the
 * routes of the main port: the same Nest application, buses, verifier and errors. It keeps what
 * Fastify keeps on the HTTP port: the token is checked from the headers before any body is read,
 * the rate limit, the timeouts of idle connections and slow requests, a bound on the calls of one
 * connection, and a log line and the metrics of every call.
 */
@Injectable()
export class GrpcServer implements BeforeApplicationShutdown {
  private readonly logger = new Logger('gRPC');
  private server?: Http2Server;
  private readonly sessions = new Set<ServerHttp2Session>();

  constructor(
    private readonly routes: ConnectRoutes,
    private readonly recorder: RequestRecorder,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Starts listening; resolves the address it listens on, as `host:port`. */
  async listen({ port, host, limits }: GrpcListenOptions): Promise<string> {
    const handler = connectNodeAdapter({
      ...this.routes.options({ readMaxBytes: limits.bodyLimitBytes }),
      contextValues: (request) => this.routes.gate.contextValuesOf(request),
      // A path that is no method of ours: UNIMPLEMENTED, as gRPC servers answer it, not an HTTP 404.
      fallback: (request, response) =>
        refuse(
          response as Http2ServerResponse,
          this.routes.gate.refusal(request.headers['content-type'], new ConnectError(`unknown method ${request.url}`, Code.Unimplemented)),
        ),
    });
    const limiter = limits.rateLimitPerMinute > 0 ? new FixedWindowLimiter(limits.rateLimitPerMinute, 60_000, this.clock) : undefined;
    const paths = this.routes.methodPaths();
    const server = createServer({ settings: { maxConcurrentStreams: limits.maxConcurrentStreams } }, (request, response) => {
      const correlationId = requestIdFrom(request.headers[REQUEST_ID_HEADER]);
      // Response metadata, so that a client can find the log line of its call.
      response.setHeader(REQUEST_ID_HEADER, correlationId);
      this.record(request, response, correlationId, paths);
      this.limitTime(request, response, limits.requestTimeoutMs);
      void this.serve(request, response, correlationId, limiter).then(
        (admitted) => admitted && handler(request, response),
        (error: unknown) => {
          this.logger.error(`gRPC call could not be admitted: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
          response.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
        },
      );
    });
    // A connection without any traffic (not even the HTTP/2 preface) for this long is destroyed.
    if (limits.connectionTimeoutMs > 0) server.setTimeout(limits.connectionTimeoutMs);
    server.on('session', (session) => this.track(session, limits.keepAliveTimeoutMs));
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) =>
        reject(new Error(`gRPC could not listen on ${host}:${port} (GRPC_PORT): ${error.message}`, { cause: error }));
      server.once('error', fail);
      server.listen(port, host, () => {
        server.off('error', fail);
        resolve();
      });
    });
    server.on('error', (error) => this.logger.error(`gRPC server error: ${error.stack ?? error.message}`));
    this.server = server;
    const address = server.address() as AddressInfo;
    const at = address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
    this.logger.log(`gRPC listening on ${at} (HTTP/2 cleartext; Connect and gRPC-web are served on the HTTP port)`);
    return at;
  }

  /** The gate, from the headers alone; true when the call may go on to the router. */
  private async serve(
    request: Http2ServerRequest,
    response: Http2ServerResponse,
    correlationId: string,
    limiter?: FixedWindowLimiter,
  ): Promise<boolean> {
    const refusal = await this.routes.gate.admit(
      {
        request,
        authorization: request.headers.authorization,
        contentType: request.headers['content-type'],
        correlationId,
        ip: request.socket?.remoteAddress,
      },
      limiter && ((key) => limiter.take(key)),
    );
    if (!refusal) return true;
    refuse(response, refusal);
    return false;
  }

  /**
   * HTTP_REQUEST_TIMEOUT_MS: a call whose request has not been received whole in time is answered
   * DEADLINE_EXCEEDED and its stream closed, as the HTTP port answers 408.
   */
  private limitTime(request: Http2ServerRequest, response: Http2ServerResponse, timeoutMs: number): void {
    if (timeoutMs <= 0) return;
    const timer = setTimeout(() => {
      if (request.complete || response.stream.closed) return;
      if (response.headersSent) {
        response.stream.close(constants.NGHTTP2_CANCEL);
        return;
      }
      const message = 'the request was not received in time (HTTP_REQUEST_TIMEOUT_MS)';
      refuse(response, {
        status: 200,
        headers: { 'content-type': 'application/grpc', 'grpc-status': String(StatusCode.DEADLINE_EXCEEDED), 'grpc-message': encodeURIComponent(message) },
        body: new Uint8Array(),
        code: StatusCode.DEADLINE_EXCEEDED,
      });
    }, timeoutMs);
    timer.unref();
    request.once('end', () => clearTimeout(timer));
    response.stream.once('close', () => clearTimeout(timer));
  }

  /** The log line and metrics of a call, once its stream has closed, with the gRPC status it was answered. */
  private record(request: Http2ServerRequest, response: Http2ServerResponse, reqId: string, paths: ReadonlySet<string>): void {
    const started = performance.now();
    const stream = response.stream;
    stream.once('close', () => {
      const sent = stream.sentTrailers?.['grpc-status'] ?? stream.sentHeaders?.['grpc-status'];
      const grpcStatus = sent === undefined ? undefined : Number(sent);
      const url = request.url ?? '/';
      this.recorder.record({
        reqId,
        method: request.method ?? 'POST',
        route: paths.has(url) ? url : UNMATCHED_ROUTE,
        url,
        statusCode: httpStatusOf(grpcStatus),
        grpcStatus,
        ms: performance.now() - started,
        failure: failures.get(request),
      });
    });
  }

  /**
   * A connection that has no call open for HTTP_KEEP_ALIVE_TIMEOUT_MS is closed (GOAWAY), even when
   * the client keeps it busy with pings, as the HTTP port closes idle keep-alive connections.
   */
  private track(session: ServerHttp2Session, idleMs: number): void {
    this.sessions.add(session);
    let open = 0;
    let idle: NodeJS.Timeout | undefined;
    const arm = () => {
      idle = setTimeout(() => session.close(), idleMs);
      idle.unref();
    };
    arm();
    session.on('stream', (stream) => {
      open += 1;
      clearTimeout(idle);
      stream.once('close', () => {
        open -= 1;
        if (open === 0 && !session.closed && !session.destroyed) arm();
      });
    });
    session.once('close', () => {
      clearTimeout(idle);
      this.sessions.delete(session);
    });
  }

  /**
   * Runs before the stores close: no new connections or calls are taken (each session gets a
   * GOAWAY), calls in flight finish, and connections still open after the grace period are cut.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of this.sessions) session.close();
    const cut = setTimeout(() => {
      this.logger.warn(`calls still open ${SHUTDOWN_GRACE_MS} ms after shutdown began: closing their connections`);
      for (const session of this.sessions) session.destroy();
    }, SHUTDOWN_GRACE_MS);
    cut.unref();
    await closed;
    clearTimeout(cut);
    this.logger.log('gRPC server closed');
  }
}

/** The HTTP status the contract gives a call's gRPC status, for logs and metrics alike on every port. */
function httpStatusOf(grpcStatus: number | undefined): number {
  if (grpcStatus === undefined) return CLIENT_CLOSED;
  if (grpcStatus === 0) return 200;
  return HTTP_STATUS_OF[grpcStatus as StatusCode] ?? codeToHttpStatus(grpcStatus);
}

/** Why a call was refused, for its log line. */
const failures = new WeakMap<Http2ServerRequest, string>();

/**
 * Answers a call whose body was not read (a trailers-only answer: one HEADERS frame that ends the
 * stream), then resets the stream so that a client still sending its body stops.
 */
function refuse(response: Http2ServerResponse, refusal: RpcRefusal): void {
  if (refusal.failure) failures.set(response.req, refusal.failure);
  const stream = response.stream;
  if (stream.closed || stream.headersSent) return;
  // The request id set on the response object is not sent by a raw respond(): it is added here.
  const requestId = response.getHeader(REQUEST_ID_HEADER);
  stream.respond({ ':status': refusal.status, ...refusal.headers, ...(requestId ? { [REQUEST_ID_HEADER]: requestId } : {}) }, { endStream: true });
  stream.close(constants.NGHTTP2_NO_ERROR);
}
