import { Inject, Injectable, Logger } from '@nestjs/common';
import { createContextValues, type ConnectRouter, type ConnectRouterOptions } from '@connectrpc/connect';
import { fastifyConnectPlugin } from '@connectrpc/connect-fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { TokenVerifier } from '../auth/token-verifier';
import { HTTP_REQUEST_ID, rpcEdgeInterceptor } from './rpc-edge.interceptor';
import { UserServiceRpc } from './user-service.rpc';
import { ZITADEL_PROTO, type ZitadelProto } from './zitadel-proto';

export interface RpcLimits {
  /** Largest request message accepted, as REST bounds its bodies. */
  readMaxBytes: number;
}

/** The RPC routes and the interceptor they all go through: one definition for every port. */
@Injectable()
export class ConnectRoutes {
  private readonly logger = new Logger('RPC');

  constructor(
    private readonly userService: UserServiceRpc,
    private readonly verifier: TokenVerifier,
    @Inject(ZITADEL_PROTO) private readonly proto: ZitadelProto,
  ) {}

  options({ readMaxBytes }: RpcLimits): ConnectRouterOptions & { routes: (router: ConnectRouter) => void } {
    return {
      routes: (router) => router.service(this.proto.UserService, this.userService.implementation()),
      interceptors: [rpcEdgeInterceptor(this.verifier, this.proto.ErrorDetailSchema, this.logger)],
      readMaxBytes,
    };
  }
}

/**
 * Serves the Connect protocol (JSON and binary) and gRPC-web on the app's own Fastify instance,
 * over HTTP/1.1, beside the REST routes. Must run before app.init(). The plugin is encapsulated:
 * its body parsers for the RPC content types do not replace the REST edge's JSON parser.
 */
export async function installConnect(app: NestFastifyApplication, limits: RpcLimits): Promise<void> {
  await app.register(fastifyConnectPlugin, {
    ...app.get(ConnectRoutes).options(limits),
    // The events of a call carry the id that the HTTP request log shows for it.
    contextValues: (request) => createContextValues().set(HTTP_REQUEST_ID, String(request.id)),
  });
}
