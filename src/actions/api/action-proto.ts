/**
 * ZITADEL's ActionService descriptors, from @zitadel/proto; loaded with import() for the reason
 * grpc/zitadel-proto.ts gives (the package's cjs build cannot be required).
 */
export async function loadActionProto() {
  const service = await import('@zitadel/proto/zitadel/action/v2beta/action_service_pb.js');
  return { ActionService: service.ActionService };
}

export type ActionProto = Awaited<ReturnType<typeof loadActionProto>>;
export type ActionServiceDesc = ActionProto['ActionService'];

export const ACTION_PROTO = Symbol('ActionProto');
