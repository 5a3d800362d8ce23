import { Inject, Injectable } from '@nestjs/common';
import { Code, ConnectError, type ConnectRouter, type ConnectRouterOptions } from '@connectrpc/connect';
import { fastifyConnectPlugin } from '@connectrpc/connect-fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { ACTION_PROTO, type ActionProto } from '../actions/api/action-proto';
import { ActionServiceRpc } from './action-service.rpc';
import { rpcEdgeInterceptor } from './rpc-edge.interceptor';
import { RpcGate } from './rpc-gate';
import { answerBadRequestsInContractShape } from './rpc-bad-requests';
import { UserServiceRpc } from './user-service.rpc';
import { ZITADEL_PROTO, type ZitadelProto } from './zitadel-proto';

export interface RpcLimits {
  /** Largest request message accepted, as REST bounds its bodies. */
  readMaxBytes: number;
}

/** The RPC routes and the interceptor they all go through: one definition for every port. */
@Injectable()
export class ConnectRoutes {
  constructor(
    private readonly userService: UserServiceRpc,
    private readonly actionService: ActionServiceRpc,
    readonly gate: RpcGate,
    @Inject(ZITADEL_PROTO) private readonly proto: ZitadelProto,
    @Inject(ACTION_PROTO) private readonly actionProto: ActionProto,
  ) {}

  options({ readMaxBytes }: RpcLimits): ConnectRouterOptions & { routes: (router: ConnectRouter) => void } {
    return {
      routes: (router) => {
        router.service(this.proto.UserService, this.userService.implementation());
        router.service(this.actionProto.ActionService, this.actionService.implementation());
        answerBadRequestsInContractShape(router);
      },
      interceptors: [rpcEdgeInterceptor(this.gate)],
      readMaxBytes,
    };
  }

  /** The paths of the service's methods, served or not: the route label of metrics and logs. */
  methodPaths(): ReadonlySet<string> {
    const services = [this.proto.UserService, this.actionProto.ActionService];
    return new Set(services.flatMap((service) => service.methods.map((method) => `/${service.typeName}/${method.name}`)));
  }
}

/**
 * Serves the Connect protocol (JSON and binary) and gRPC-web on the app's own Fastify instance,
 * over HTTP/1.1, beside the REST routes. Must run before app.init(). The plugin is encapsulated in
 * a scope of its own: its body parsers for the RPC content types do not replace the REST edge's
 * JSON parser, and the gate's hook runs for its routes only, before the body is read. The rate
 * limit, the request log line and the metrics are the port's own (ops.setup.ts).
 */
export async function installConnect(app: NestFastifyApplication, limits: RpcLimits): Promise<void> {
  const routes = app.get(ConnectRoutes);
  await app.register(async (scope: FastifyInstance) => {
    scope.addHook('onRequest', async (request, reply) => {
      const refusal = await routes.gate.admit({
        request: request.raw,
        authorization: request.headers.authorization,
        contentType: request.headers['content-type'],
        correlationId: request.id,
        ip: request.ip,
      });
      if (!refusal) return;
      request.failure = refusal.failure;
      return reply.code(refusal.status).headers(refusal.headers).send(Buffer.from(refusal.body));
    });
    // What Fastify itself refuses here (a Content-Type that is no media type) is answered as the call's protocol answers errors.
    scope.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
      const status = error.statusCode ?? 500;
      const cause = status < 500 ? new ConnectError(error.message, Code.InvalidArgument) : error;
      const refusal = routes.gate.refusal(request.headers['content-type'], cause);
      return reply.code(refusal.status).headers(refusal.headers).send(Buffer.from(refusal.body));
    });
    await scope.register(fastifyConnectPlugin, {
      ...routes.options(limits),
      contextValues: (request) => routes.gate.contextValuesOf(request.raw),
    });
  });
}
