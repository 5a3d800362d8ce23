import { Inject, Injectable } from '@nestjs/common';
import { fromJson, type DescMessage, type JsonValue, type MessageShape } from '@bufbuild/protobuf';
import type { ServiceImpl } from '@connectrpc/connect';
import { ACTION_PROTO, type ActionProto, type ActionServiceDesc } from '../actions/api/action-proto';
import { ActionsApi } from '../actions/api/actions.api';
import { requestContextOf } from './rpc-gate';

/**
 * zitadel.action.v2beta.ActionService over RPC: the request message goes to the same ActionsApi as
 * the REST form's, whose answer is the response's protobuf JSON.
 */
@Injectable()
export class ActionServiceRpc {
  constructor(
    private readonly api: ActionsApi,
    @Inject(ACTION_PROTO) private readonly proto: ActionProto,
  ) {}

  /** The methods we serve; ListExecutionFunctions, Methods and Services answer UNIMPLEMENTED. */
  implementation(): Partial<ServiceImpl<ActionServiceDesc>> {
    const method = this.proto.ActionService.method;
    return {
      createTarget: async (request, ctx) => answer(method.createTarget.output, await this.api.createTarget(request, requestContextOf(ctx))),
      updateTarget: async (request, ctx) => answer(method.updateTarget.output, await this.api.updateTarget(request, requestContextOf(ctx))),
      deleteTarget: async (request, ctx) => answer(method.deleteTarget.output, await this.api.deleteTarget(request, requestContextOf(ctx))),
      getTarget: async (request, ctx) => answer(method.getTarget.output, await this.api.getTarget(request, requestContextOf(ctx))),
      listTargets: async (request, ctx) => answer(method.listTargets.output, await this.api.listTargets(request, requestContextOf(ctx))),
      setExecution: async (request, ctx) => answer(method.setExecution.output, await this.api.setExecution(request, requestContextOf(ctx))),
      listExecutions: async (request, ctx) =>
        answer(method.listExecutions.output, await this.api.listExecutions(request, requestContextOf(ctx))),
    };
  }
}

function answer<Desc extends DescMessage>(output: Desc, json: object): MessageShape<Desc> {
  return fromJson(output, json as JsonValue);
}
