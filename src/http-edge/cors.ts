import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { REQUEST_ID_HEADER } from './request-id';

/**
 * What a browser may send and read across origins: REST's headers, and those the Connect and
 * gRPC-web clients (`@connectrpc/connect-web`, `@zitadel/client`'s web transport) send and read.
 */
const ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  REQUEST_ID_HEADER,
  'Last-Event-ID',
  'Connect-Protocol-Version',
  'Connect-Timeout-Ms',
  'Connect-Accept-Encoding',
  'Connect-Content-Encoding',
  'Grpc-Timeout',
  'Grpc-Accept-Encoding',
  'X-Grpc-Web',
  'X-User-Agent',
];
const EXPOSED_HEADERS = [
  REQUEST_ID_HEADER,
  'Grpc-Status',
  'Grpc-Message',
  'Grpc-Status-Details-Bin',
  'Grpc-Accept-Encoding',
  'Grpc-Encoding',
  'Connect-Accept-Encoding',
  'Connect-Content-Encoding',
  'Content-Encoding',
  'Retry-After',
  'Allow',
];

/**
 * CORS for the origins of CORS_ALLOWED_ORIGINS, on every route of the HTTP port (REST, Connect,
 * gRPC-web). Tokens travel in the Authorization header, never in cookies, so credentials stay off.
 * With no origin configured nothing is installed: a browser then refuses cross-origin answers.
 */
export function installCors(app: NestFastifyApplication, origins: readonly string[]): void {
  if (origins.length === 0) return;
  app.enableCors({
    origin: [...origins],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    credentials: false,
    maxAge: 600,
    // A preflight is answered by CORS alone (204), before the token or the route are looked at.
    preflightContinue: false,
    optionsSuccessStatus: 204,
  });
}
