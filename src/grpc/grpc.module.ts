import { Module } from '@nestjs/common';
import { ActionsModule } from '../actions/actions.module';
import { ActionServiceRpc } from './action-service.rpc';
import { ConnectRoutes } from './connect-routes';
import { GrpcServer } from './grpc.server';
import { RpcGate } from './rpc-gate';
import { UserServiceRpc } from './user-service.rpc';
import { ZITADEL_PROTO, loadZitadelProto } from './zitadel-proto';

/** zitadel.user.v2.UserService and zitadel.action.v2beta.ActionService over gRPC, gRPC-web and Connect. */
@Module({
  imports: [ActionsModule],
  providers: [{ provide: ZITADEL_PROTO, useFactory: loadZitadelProto }, UserServiceRpc, ActionServiceRpc, RpcGate, ConnectRoutes, GrpcServer],
  exports: [ConnectRoutes, GrpcServer],
})
export class GrpcModule {}
