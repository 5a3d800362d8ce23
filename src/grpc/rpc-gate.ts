import { Inject, Injectable, Logger } from '@nestjs/common';
import { Code, ConnectError, createContextKey, createContextValues, type ContextValues, type HandlerContext } from '@connectrpc/connect';
import { codeToHttpStatus, errorToJsonBytes } from '@connectrpc/connect/protocol-connect';
import { setTrailerStatus } from '@connectrpc/connect/protocol-grpc';
import type { RequestContext } from '../auth/auth.guard';
import type { Caller } from '../auth/caller';
import { TokenVerifier } from '../auth/token-verifier';
import { Errors } from '../errors/errors';
import { StatusCode } from '../errors/service-error';
import { errorBody, failureOf, toServiceError } from '../http-edge/contract-exception.filter';
import { ZITADEL_PROTO, type ZitadelProto } from './zitadel-proto';

const REQUEST_CONTEXT = createContextKey<RequestContext | undefined>(undefined, {
  description: 'the verified caller and correlation id of an RPC',
});

/** Who calls and the id its events carry, as the gate admitted the call. */
export function requestContextOf(ctx: Pick<HandlerContext, 'values'>): RequestContext {
  const context = ctx.values.get(REQUEST_CONTEXT);
  if (!context) throw new Error('an RPC ran without passing RpcGate: no caller was verified');
  return context;
}

/** The protocols an RPC may come by; each writes a refusal its own way. */
export type RpcProtocol = 'grpc' | 'grpc-web' | 'connect';

export function rpcProtocolOf(contentType: string | undefined): RpcProtocol {
  const type = (contentType ?? '').trimStart().toLowerCase();
  if (type.startsWith('application/grpc-web')) return 'grpc-web';
  return type.startsWith('application/grpc') ? 'grpc' : 'connect';
}

/** An answer written before the request's body is read: the status, headers and body of the refusal. */
export interface RpcRefusal {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
  /** The gRPC status code it carries. */
  code: number;
  /** Why, for the log line only (a 401's reason). */
  failure?: string;
}

/** What the gate is told of a call: only what its headers and connection say. */
export interface RpcCall {
  /** The node request; the context is kept for it until the router asks for it. */
  request: object;
  authorization: string | undefined;
  contentType: string | undefined;
  correlationId: string;
  /** The caller's address, the key of the rate limit when there is no valid token. */
  ip: string | undefined;
}

/**
 * The first thing every RPC meets, on every port and protocol, before its body is read: the
 * bearer token, verified by the same TokenVerifier as REST, then the rate limit when the port has
 * one. So a call without a valid token is UNAUTHENTICATED however its body is made (or while it
 * is still being sent), as the contract's order says: token, then shape, then permission.
 */
@Injectable()
export class RpcGate {
  private readonly logger = new Logger('RPC');
  private readonly admitted = new WeakMap<object, RequestContext>();

  constructor(
    private readonly verifier: TokenVerifier,
    @Inject(ZITADEL_PROTO) private readonly proto: ZitadelProto,
  ) {}

  /**
   * Admits the call (the router then finds its caller through contextValuesOf) or answers why not.
   * `withinLimit`, given the caller's key (`sub:` or `ip:`), says whether the rate limit lets it in.
   */
  async admit(call: RpcCall, withinLimit?: (key: string) => boolean): Promise<RpcRefusal | undefined> {
    let caller: Caller | undefined;
    let refused: unknown;
    try {
      caller = await this.verifier.callerFrom(call.authorization);
    } catch (exception) {
      refused = exception;
    }
    if (withinLimit && !withinLimit(caller ? `sub:${caller.userId}` : `ip:${call.ip ?? 'unknown'}`)) {
      refused = Errors.tooManyRequests();
    }
    if (!caller || refused) return this.refusal(call.contentType, refused);
    this.admitted.set(call.request, { caller, correlationId: call.correlationId });
    return undefined;
  }

  /** The context values of an admitted request, for the router's `contextValues`. */
  contextValuesOf(request: object): ContextValues {
    return createContextValues().set(REQUEST_CONTEXT, this.admitted.get(request));
  }

  /**
   * The contract's error as an RPC error: the ServiceError's gRPC code, the message "text (id)" as
   * REST writes it, and a zitadel.v1.ErrorDetail with the id and text. The framework's own errors
   * (unimplemented method, deadline, cancelled) are RPC errors already.
   */
  rpcErrorOf(exception: unknown, what: string): ConnectError {
    if (exception instanceof ConnectError) return exception;
    const error = toServiceError(exception);
    if (error.code === StatusCode.INTERNAL) {
      this.logger.error(`${what} failed unexpectedly: ${describe(exception)}`);
    } else if (error.code === StatusCode.UNAVAILABLE) {
      this.logger.warn(`${what}: the store is unavailable: ${describe(error.cause ?? exception)}`);
    }
    const details = error.id ? [{ desc: this.proto.ErrorDetailSchema, value: { id: error.id, message: error.text } }] : [];
    return new ConnectError(errorBody(error).message, error.code as number, undefined, details, exception);
  }

  /** The answer that refuses a call for `exception`, written as its protocol (from its Content-Type) writes errors. */
  refusal(contentType: string | undefined, exception: unknown): RpcRefusal {
    const protocol = rpcProtocolOf(contentType);
    const error = this.rpcErrorOf(exception, 'refusing a call');
    const failure = error.code === Code.Unauthenticated ? failureOf(toServiceError(exception)) : undefined;
    if (protocol === 'connect') {
      const body = errorToJsonBytes(error, {});
      return { status: codeToHttpStatus(error.code), headers: { 'content-type': 'application/json' }, body, code: error.code, failure };
    }
    // gRPC and gRPC-web: a "trailers-only" answer, the status in the headers and no body.
    const headers: Record<string, string> = { 'content-type': contentType ?? `application/${protocol}` };
    setTrailerStatus(new Headers(), error).forEach((value, key) => (headers[key] = value));
    return { status: 200, headers, body: new Uint8Array(), code: error.code, failure };
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
