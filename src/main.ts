import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import { AppModule } from './app.module';
import { authenticateBeforeBody } from './auth/authenticate-before-body';
import { TokenVerifier } from './auth/token-verifier';
import { Config, ConfigError, loadConfig } from './config/config';
import { FrameworkErrorDeps, sendFrameworkError } from './http-edge/contract-exception.filter';
import { RequestRecorder } from './ops/logging/request.recorder';
import { installConnect } from './grpc/connect-routes';
import { GrpcServer } from './grpc/grpc.server';
import { installCors } from './http-edge/cors';
import { KnownRoutes, installHttpEdge } from './http-edge/http-edge';
import { setupOpenApi } from './ops/openapi/openapi.setup';
import { PinoLoggerService, createRootLogger } from './ops/logging/logger';
import { REQUEST_ID_HEADER, requestIdFrom } from './http-edge/request-id';
import { httpServerOptions, installOps, packageVersion, recordRequest, serviceSecurityHeaders } from './ops/ops.setup';

/** Longest path parameter the router takes; longer ones are refused before any route runs. */
export const MAX_PARAM_LENGTH = 200 * 12;

export async function createApp(config: Config, logger = new PinoLoggerService(createRootLogger(config.logLevel))): Promise<NestFastifyApplication> {
  const routes = new KnownRoutes();
  // Made by Nest once the adapter exists; the adapter's error handler needs them only at request time.
  let frameworkErrorDeps: FrameworkErrorDeps | undefined;
  const adapter = new FastifyAdapter({
    // Body limit and timeouts on slow clients (BODY_LIMIT_BYTES, HTTP_*_TIMEOUT_MS).
    ...httpServerOptions(config.http),
    genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => requestIdFrom(req.headers[REQUEST_ID_HEADER]),
    rewriteUrl: (req: { method?: string; url?: string }) => routes.markEmptyParams(req.method ?? 'GET', req.url ?? '/'),
    // While draining, a request that still arrives is served (Fastify then answers it with
    // Connection: close) rather than given Fastify's own 503 body, which is not the contract's;
    // the stores close only after the last connection has ended.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // A userId may have 200 characters; percent-encoded, each takes up to 12 (4 UTF-8 bytes).
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Errors Fastify answers before any route runs (a too long parameter, a bad URL), in the contract's shape.
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) => void sendFrameworkError(error, request, reply, frameworkErrorDeps),
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, undefined, logger.pino), adapter, {
    logger,
    abortOnError: false,
    // Our own parser (http-edge) takes every body, so that a bad one is judged after the token.
    bodyParser: false,
  });
  const [verifier, recorder] = [app.get(TokenVerifier), app.get(RequestRecorder)];
  frameworkErrorDeps = { verifier, headers: serviceSecurityHeaders(), answered: (request, reply) => recordRequest(recorder, request, reply) };
  authenticateBeforeBody(app.getHttpAdapter().getInstance(), verifier);
  installCors(app, config.corsAllowedOrigins);
  installHttpEdge(app, routes);
  await installOps(app, config);
  // Connect and gRPC-web beside REST on this port; gRPC over HTTP/2 listens on GRPC_PORT (bootstrap).
  await installConnect(app, { readMaxBytes: config.http.bodyLimitBytes });
  await app.init();
  setupOpenApi(app, packageVersion());
  return app;
}

async function bootstrap(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      new PinoLoggerService(createRootLogger('info')).fatal(`invalid configuration: ${error.message}. Fix the variable and start again.`, 'Bootstrap');
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  Logger.overrideLogger(new PinoLoggerService(createRootLogger(config.logLevel)));
  const logger = new Logger('Bootstrap');
  const app = await createApp(config);
  await app.listen({ port: config.port, host: config.host });
  // Before the "listening" line below, so that whoever waits for that line can also read the gRPC port.
  await app.get(GrpcServer).listen({ port: config.grpcPort, host: config.host, limits: config.http });
  stopOnSignals(app, logger);
  logger.log(
    `mfa-service listening on ${listeningOn(app.getHttpServer().address())} ` +
      `(event store: ${config.eventStoreConnectionString ? 'EventStoreDB' : config.databaseUrl ? 'PostgreSQL' : `SQLite in ${config.dataDir}`})`,
  );
}

/** The address a server really listens on, as a URL; "all interfaces" says what 0.0.0.0 or :: means. */
export function listeningOn(address: string | AddressInfo | null): string {
  if (address === null || typeof address === 'string') return String(address);
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const everywhere = address.address === '0.0.0.0' || address.address === '::';
  return `http://${shown}:${address.port}${everywhere ? ', all interfaces' : ''}`;
}

/**
 * SIGTERM/SIGINT: stop taking requests, let those in flight finish, stop the projections, close
 * the stores, then exit 0. A second signal exits at once.
 */
function stopOnSignals(app: NestFastifyApplication, logger: Logger): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn(`received ${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    logger.log(`received ${signal}: finishing requests in flight, then closing the store`);
    // A kept-alive connection that was busy when closing began becomes idle once its answer is
    // sent; without this it would hold shutdown open until its keep-alive timeout.
    const server = app.getHttpServer() as import('node:http').Server;
    const reaper = setInterval(() => server.closeIdleConnections(), 50);
    reaper.unref();
    app
      .close()
      .then(() => {
        logger.log('mfa-service stopped cleanly');
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error(`shutdown failed: ${(error as Error).stack ?? String(error)}`);
        process.exit(1);
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  bootstrap().catch((error: unknown) => {
    new Logger('Bootstrap').fatal(`mfa-service could not start: ${(error as Error).stack ?? String(error)}`);
    // Once the line is written: pino writes standard output synchronously.
    process.exit(1);
  });
}
