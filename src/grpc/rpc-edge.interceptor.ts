import type { Interceptor } from '@connectrpc/connect';
import { requestContextOf, type RpcGate } from './rpc-gate';

/**
 * What every RPC method goes through, whichever protocol carries it (gRPC, gRPC-web, Connect), after
 * the gate admitted its caller: every failure leaves as the contract's error.
 */
export function rpcEdgeInterceptor(gate: RpcGate): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (exception) {
      const { correlationId } = requestContextOf({ values: req.contextValues });
      throw gate.rpcErrorOf(exception, `request ${correlationId} ${req.service.typeName}/${req.method.name}`);
    }
  };
}
