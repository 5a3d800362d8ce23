import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Caller } from './caller';
import type { TokenVerifier } from './token-verifier';

/** Every route under these paths is the API's, and needs a token; health, metrics and docs are outside them. */
const API_PATH = /^\/(v2|v2beta|admin)\//;

declare module 'fastify' {
  interface FastifyRequest {
    /** The token's caller, once verified: before the body is read, or by the guard. */
    caller?: Caller;
  }
}

/** Whether a request goes to the API: by its route, or by its path when it matched none. */
export const isApiRequest = (request: FastifyRequest): boolean => API_PATH.test(request.routeOptions?.url ?? request.url);

/**
 * The contract checks the caller before the request's shape. Guards run after the body is parsed,
 * and Fastify refuses a body over BODY_LIMIT_BYTES while parsing it, so a request with a body has
 * its token verified first, here; the guard then takes the caller found (requests without a body
 * are left to the guard alone, at no cost).
 */
export function authenticateBeforeBody(fastify: FastifyInstance, verifier: TokenVerifier): void {
  fastify.addHook('preParsing', (request, _reply, payload, done) => {
    const hasBody = request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0;
    if (!hasBody || !request.routeOptions.url || !isApiRequest(request)) return done(null, payload);
    verifier.callerFrom(request.headers.authorization).then(
      (caller) => {
        request.caller = caller;
        done(null, payload);
      },
      (error: Error) => done(error),
    );
  });
}
