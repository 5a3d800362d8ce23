import { CanActivate, ExecutionContext, Injectable, SetMetadata, createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { Caller } from './caller';
import { TokenVerifier } from './token-verifier';

const PUBLIC = 'mfa:public';

/** Marks a route that needs no token (health, metrics, docs). */
export const Public = () => SetMetadata(PUBLIC, true);

/**
 * Authenticates every route that is not @Public. Guards run before pipes, so a request without a
 * valid token answers 401 before its body or path is looked at, as the contract orders the checks
 * (a request with a body was authenticated before the body was read: authenticate-before-body).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    request.caller ??= await this.verifier.callerFrom(request.headers.authorization);
    return true;
  }
}

/** What a command needs to know about its request: who calls, and the id to correlate events with. */
export interface RequestContext {
  caller: Caller;
  correlationId: string;
}

export const Ctx = createParamDecorator((_: unknown, context: ExecutionContext): RequestContext => {
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  if (!request.caller) throw new Error('Ctx used on a route without authentication');
  return { caller: request.caller, correlationId: String(request.id) };
});
