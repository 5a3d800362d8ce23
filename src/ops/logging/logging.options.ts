import { RequestMethod } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { Params } from 'nestjs-pino';
import pino from 'pino';
import type { LogLevel } from '../../config/config';

/**
 * Where a secret or a person's data could show up in a log object, in case someone logs a request,
 * its headers or a body despite the rules below: pino replaces these values.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'token',
  '*.token',
  'email',
  '*.email',
  'body',
  '*.body',
];

/**
 * Structured JSON logs, one object a line, through nestjs-pino. Nest's own Logger calls go to the
 * same pino (main.ts: app.useLogger), and inside a request they carry its id (`reqId`).
 *
 * pino-http's own request line is off: ops-http.hooks.ts writes the one line a request, because it
 * knows the route pattern and the final status. Bodies and headers are never logged.
 */
export function loggerParams(level: LogLevel): Params {
  return {
    // nestjs-pino's default, '{/*splat}', gets a leading slash from the Fastify adapter and then
    // matches only '/': no request would carry its id in the logs written while it runs.
    forRoutes: [{ path: '{*splat}', method: RequestMethod.ALL }],
    pinoHttp: {
      level,
      name: 'mfa-service',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      autoLogging: false,
      // In-request logs carry the request id only, not the request (its headers hold the token).
      quietReqLogger: true,
      // Fastify made the id (the caller's X-Request-Id or a UUID) and it is the events' correlation
      // id; @fastify/middie copies it to the raw request.
      genReqId: (req: IncomingMessage) => (req as IncomingMessage & { id?: string }).id ?? 'unknown',
      customAttributeKeys: { reqId: 'reqId' },
    },
  };
}
