import { Logger } from '@nestjs/common';
import { ConnectError, createContextKey, type HandlerContext, type Interceptor } from '@connectrpc/connect';
import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../auth/auth.guard';
import type { TokenVerifier } from '../auth/token-verifier';
import { errorBody, toServiceError } from '../http-edge/contract-exception.filter';
import { StatusCode } from '../errors/service-error';
import type { ZitadelProto } from './zitadel-proto';

/** The id the HTTP server gave the request (Fastify's request id, which its request log shows). */
export const HTTP_REQUEST_ID = createContextKey<string | undefined>(undefined, { description: 'HTTP request id' });

const REQUEST_CONTEXT = createContextKey<RequestContext | undefined>(undefined, {
  description: 'the verified caller and correlation id of an RPC',
});

/** Who calls and the id its events carry: set by the interceptor before any method runs. */
export function requestContextOf(ctx: HandlerContext): RequestContext {
  const context = ctx.values.get(REQUEST_CONTEXT);
  if (!context) throw new Error('an RPC ran without rpcEdgeInterceptor: no caller was verified');
  return context;
}

/** A caller's X-Request-Id is kept so its logs and our events correlate, as Fastify's genReqId does. */
function correlationIdOf(given: string | null): string {
  return given && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

/**
 * What every RPC goes through, whichever protocol carries it (gRPC, gRPC-web, Connect):
 * - the caller first: the bearer token in the `authorization` header or metadata, verified by the
 *   same TokenVerifier as REST, so a call without a valid token is UNAUTHENTICATED before its
 *   request is looked at, and methods we do not serve answer UNIMPLEMENTED only to a known caller;
 * - every failure leaves as the contract's error: the ServiceError's gRPC code, the message
 *   "text (id)" as REST writes it, and a zitadel.v1.ErrorDetail with the id and text.
 */
export function rpcEdgeInterceptor(
  verifier: TokenVerifier,
  errorDetail: ZitadelProto['ErrorDetailSchema'],
  logger: Logger,
): Interceptor {
  return (next) => async (req) => {
    const correlationId = req.contextValues.get(HTTP_REQUEST_ID) ?? correlationIdOf(req.header.get('x-request-id'));
    try {
      const caller = await verifier.callerFrom(req.header.get('authorization') ?? undefined);
      req.contextValues.set(REQUEST_CONTEXT, { caller, correlationId });
      return await next(req);
    } catch (exception) {
      // The framework's own answers (unimplemented method, deadline, cancelled) are already RPC errors.
      if (exception instanceof ConnectError) throw exception;
      const error = toServiceError(exception);
      const rpc = `${req.service.typeName}/${req.method.name}`;
      if (error.code === StatusCode.INTERNAL) {
        logger.error(`request ${correlationId} ${rpc} failed unexpectedly: ${describe(exception)}`);
      } else if (error.code === StatusCode.UNAVAILABLE) {
        logger.warn(`request ${correlationId} ${rpc}: the store is unavailable: ${describe(error.cause ?? exception)}`);
      }
      const details = error.id ? [{ desc: errorDetail, value: { id: error.id, message: error.text } }] : [];
      throw new ConnectError(errorBody(error).message, error.code as number, undefined, details, exception);
    }
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
