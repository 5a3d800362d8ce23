import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { StoreUnavailableError, WrongExpectedRevisionError } from '../event-store/event-store.port';
import { REQUEST_ID_HEADER } from './request-id';
import { knownRoutesOf } from './http-edge';
import { isApiRequest } from '../auth/authenticate-before-body';
import type { TokenVerifier } from '../auth/token-verifier';
import { Errors } from '../errors/errors';
import { ServiceError, StatusCode } from '../errors/service-error';

/** google.rpc.Status, as ZITADEL's REST gateway writes it. */
export interface ErrorBody {
  code: number;
  message: string;
  details?: Array<{ '@type': string; id: string; message: string }>;
}

export function errorBody(error: ServiceError): ErrorBody {
  return error.id
    ? {
        code: error.code,
        message: `${error.text} (${error.id})`,
        details: [{ '@type': 'type.googleapis.com/zitadel.v1.ErrorDetail', id: error.id, message: error.text }],
      }
    : { code: error.code, message: error.text };
}

/** Fastify's and Nest's own HTTP errors, in the contract's terms. */
function fromHttpStatus(status: number, message: string): ServiceError {
  switch (status) {
    case 404:
      return Errors.notFound();
    case 405:
      return Errors.methodNotAllowed();
    case 413:
      return Errors.invalidArgument('request body is too large');
    case 415:
      return Errors.invalidArgument('request body must be JSON (Content-Type: application/json)');
    case 429:
      return Errors.tooManyRequests();
    default:
      return status >= 400 && status < 500 ? Errors.invalidArgument(message) : Errors.internal();
  }
}

/** Turns any failure into its meaning, whatever threw it. */
export function toServiceError(exception: unknown): ServiceError {
  if (exception instanceof ServiceError) return exception;
  if (exception instanceof StoreUnavailableError) return Errors.storeUnavailable(exception);
  if (exception instanceof WrongExpectedRevisionError) return Errors.concurrentModification();
  if (exception instanceof HttpException) return fromHttpStatus(exception.getStatus(), exception.message);
  const fastify = exception as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof fastify?.statusCode === 'number' && typeof fastify.code === 'string' && fastify.code.startsWith('FST_')) {
    return fromHttpStatus(fastify.statusCode, String(fastify.message));
  }
  return Errors.internal(exception);
}

/**
 * The one place an error becomes an HTTP answer: the contract's body and status, never a stack.
 * Unexpected failures are logged with the request id so an operator can find them.
 */
@Catch()
export class ContractExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    let error = toServiceError(exception);
    const allowed = error.code === StatusCode.NOT_FOUND && !error.id ? knownRoutesOf(request)?.allowedIfWrongMethod(request.method, request.url) : null;
    if (allowed) {
      error = Errors.methodNotAllowed();
      void reply.header('allow', allowed.join(', '));
    }
    if (error.code === StatusCode.UNAUTHENTICATED) request.failure = failureOf(error);
    if (error.code === StatusCode.INTERNAL) {
      this.logger.error(
        `request ${request.id} ${request.method} ${request.routeOptions?.url ?? request.url} failed unexpectedly: ${describe(exception)}`,
      );
    } else if (error.code === StatusCode.UNAVAILABLE) {
      this.logger.warn(`request ${request.id}: the store is unavailable: ${describe(error.cause ?? exception)}`);
    }
    void reply.status(error.httpStatus).header('content-type', 'application/json').send(errorBody(error));
  }
}

/** What answering a framework error needs from the app, made by Nest after the adapter. */
export interface FrameworkErrorDeps {
  verifier: TokenVerifier;
  /** The security headers the other answers get from a hook. */
  headers: Record<string, string>;
  /** The request's log line and metrics, as no hook runs for it. */
  answered(request: FastifyRequest, reply: FastifyReply): void;
}

/**
 * Fastify's `frameworkErrors`: errors found while routing (a path that is no valid URL), before Nest,
 * the filter above or any hook see the request. On the API's paths the token is checked first, as
 * the contract orders it; the security headers, the request's log line and metrics are given here,
 * as no hook runs.
 */
export async function sendFrameworkError(error: Error, request: FastifyRequest, reply: FastifyReply, deps?: FrameworkErrorDeps): Promise<void> {
  let failure = toServiceError(error);
  if (deps && isApiRequest(request)) {
    await deps.verifier.callerFrom(request.headers.authorization).catch((refused: unknown) => {
      failure = toServiceError(refused);
      request.failure = failureOf(failure);
    });
  }
  if (deps) reply.headers(deps.headers);
  await reply.status(failure.httpStatus).header('content-type', 'application/json').header(REQUEST_ID_HEADER, request.id).send(errorBody(failure));
  deps?.answered(request, reply);
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Why the request was refused, for its log line only (never in the answer): a 401's reason. */
    failure?: string;
  }
}

/** What the cause of an error said (the token library's code and text), or the error's own text. */
export function failureOf(error: ServiceError): string {
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  if (!cause || typeof cause.message !== 'string') return error.text;
  return typeof cause.code === 'string' ? `${cause.code}: ${cause.message}` : cause.message;
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
