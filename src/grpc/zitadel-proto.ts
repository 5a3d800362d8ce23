/**
 * ZITADEL's own message and service descriptors, from @zitadel/proto.
 *
 * Loaded with import(), not require(): the package is "type": "module" and its cjs/ folder has no
 * package.json of its own, so Node reads those files as ES modules and require() fails with
 * "exports is not defined in ES module scope". The ES build loads fine through import().
 */
export async function loadZitadelProto() {
  const [userService, message] = await Promise.all([
    import('@zitadel/proto/zitadel/user/v2/user_service_pb.js'),
    import('@zitadel/proto/zitadel/message_pb.js'),
  ]);
  return {
    UserService: userService.UserService,
    /** zitadel.v1.ErrorDetail: the `id` and `message` every ZITADEL error carries in its details. */
    ErrorDetailSchema: message.ErrorDetailSchema,
  };
}

export type ZitadelProto = Awaited<ReturnType<typeof loadZitadelProto>>;
export type UserServiceDesc = ZitadelProto['UserService'];

/** Nest token of the loaded descriptors. */
export const ZITADEL_PROTO = Symbol('ZitadelProto');
