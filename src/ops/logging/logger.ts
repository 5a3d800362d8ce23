import type { LoggerService } from '@nestjs/common';
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
 * Structured JSON logs, one object a line, on standard output. There is no per-request child
 * logger: the one line a request gets is written by ops.setup.ts, which knows the route pattern,
 * the final status and the request id; the few logs written on behalf of a request (errors,
 * readiness changes) name its id themselves. Bodies and headers are never logged.
 */
export function createRootLogger(level: LogLevel): pino.Logger {
  return pino({
    level,
    name: 'mfa-service',
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  });
}

const LEVELS = { log: 'info', error: 'error', warn: 'warn', debug: 'debug', verbose: 'trace', fatal: 'fatal' } as const;

/**
 * Nest's logger on pino: `new Logger(context).log(...)` anywhere in the service becomes one JSON
 * line with that context. An object message is merged into the line (`msg` its text).
 */
export class PinoLoggerService implements LoggerService {
  constructor(readonly pino: pino.Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('log', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('verbose', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  /** Nest passes the logger's context last, and for errors a stack (or undefined) first. */
  private write(method: keyof typeof LEVELS, message: unknown, params: unknown[]): void {
    const level = LEVELS[method];
    if (!this.pino.isLevelEnabled(level)) return;
    const context = typeof params[params.length - 1] === 'string' && params.length > (method === 'error' ? 1 : 0) ? params.pop() : undefined;
    const stack = method === 'error' && typeof params[0] === 'string' ? params[0] : undefined;
    const fields: Record<string, unknown> = { ...(context ? { context } : {}), ...(stack ? { stack } : {}) };
    if (message instanceof Error) this.pino[level]({ ...fields, err: message }, message.message);
    else if (typeof message === 'object' && message !== null) this.pino[level]({ ...fields, ...message });
    else this.pino[level](fields, String(message));
  }
}
