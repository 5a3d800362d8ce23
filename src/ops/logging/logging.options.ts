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
 * same pino (main.ts: app.useLogger).
 *
 * No per-request middleware: pino-http's child logger per request and the async context that
 * carries it cost about a tenth of a request's time (measured with `npm run bench`). The one line
 * a request gets is written by ops.setup.ts, which knows the route pattern, the final status and
 * the request id; the few logs written on behalf of a request (errors, readiness changes) name its
 * id themselves. Bodies and headers are never logged.
 */
export function loggerParams(level: LogLevel): Params {
  return {
    forRoutes: [],
    pinoHttp: {
      level,
      name: 'mfa-service',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      autoLogging: false,
    },
  };
}
