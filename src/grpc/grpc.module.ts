import { Module } from '@nestjs/common';
import { ConnectRoutes } from './connect-routes';
import { GrpcServer } from './grpc.server';
import { RpcGate } from './rpc-gate';
import { UserServiceRpc } from './user-service.rpc';
import { ZITADEL_PROTO, loadZitadelProto } from './zitadel-proto';

/** zitadel.user.v2.UserService over gRPC, gRPC-web and Connect, on the app's buses. */
@Module({
  providers: [{ provide: ZITADEL_PROTO, useFactory: loadZitadelProto }, UserServiceRpc, RpcGate, ConnectRoutes, GrpcServer],
  exports: [ConnectRoutes, GrpcServer],
})
export class GrpcModule {}
