import { Inject, Injectable, type Type } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { fromJson, toJson, type DescMessage, type JsonValue, type MessageShape } from '@bufbuild/protobuf';
import type { ServiceImpl } from '@connectrpc/connect';
import { BodyValidationPipe, UserIdPipe } from '../http-edge/validation.pipes';
import { AddHumanUserCommand } from '../users/add-human-user/add-human-user.command';
import { AddHumanUserDto } from '../users/add-human-user/add-human-user.dto';
import { AddOTPEmailCommand } from '../users/add-otp-email/add-otp-email.command';
import { DeleteUserCommand } from '../users/delete-user/delete-user.command';
import { GetUserByIDQuery } from '../users/get-user-by-id/get-user-by-id.query';
import { ListAuthenticationFactorsDto } from '../users/list-authentication-factors/list-authentication-factors.dto';
import { ListAuthenticationFactorsQuery } from '../users/list-authentication-factors/list-authentication-factors.query';
import { RemoveOTPEmailCommand } from '../users/remove-otp-email/remove-otp-email.command';
import { SetEmailCommand } from '../users/set-email/set-email.command';
import { SetEmailDto } from '../users/set-email/set-email.dto';
import { requestContextOf } from './rpc-gate';
import { ZITADEL_PROTO, type UserServiceDesc, type ZitadelProto } from './zitadel-proto';

const bodies = new BodyValidationPipe();

/**
 * zitadel.user.v2.UserService over RPC: the same commands and queries as the REST controllers.
 *
 * A request message is turned into its protobuf JSON, which is exactly the body the REST form of
 * the same method takes, and checked by the same pipes; so the same request is refused with the
 * same text on every protocol. The answers of the buses are the REST responses, which are protobuf
 * JSON of the response messages, so fromJson makes the messages (bigint sequence, Timestamp).
 */
@Injectable()
export class UserServiceRpc {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
    @Inject(ZITADEL_PROTO) private readonly proto: ZitadelProto,
  ) {}

  /** The methods we serve; the router answers UNIMPLEMENTED for every other method of the service. */
  implementation(): Partial<ServiceImpl<UserServiceDesc>> {
    const method = this.proto.UserService.method;
    /** The path check of REST, named after the request message as ZITADEL's validator names it. */
    const userIdOf = (input: DescMessage, userId: string) => new UserIdPipe(input.name).transform(userId);
    return {
      addHumanUser: async (request, ctx) => {
        const { input, output } = method.addHumanUser;
        const body = validBody(AddHumanUserDto, toJson(input, request));
        return answer(output, await this.commands.execute(new AddHumanUserCommand(body, requestContextOf(ctx))));
      },

      setEmail: async (request, ctx) => {
        const { input, output } = method.setEmail;
        const userId = userIdOf(input, request.userId);
        const body = validBody(SetEmailDto, toJson(input, request));
        const command = new SetEmailCommand(userId, body.email, body.isVerified === true, requestContextOf(ctx));
        return answer(output, { details: await this.commands.execute(command) });
      },

      deleteUser: async (request, ctx) => {
        const { input, output } = method.deleteUser;
        const userId = userIdOf(input, request.userId);
        return answer(output, { details: await this.commands.execute(new DeleteUserCommand(userId, requestContextOf(ctx))) });
      },

      getUserByID: async (request, ctx) => {
        const { input, output } = method.getUserByID;
        const userId = userIdOf(input, request.userId);
        return answer(output, await this.queries.execute(new GetUserByIDQuery(userId, requestContextOf(ctx))));
      },

      addOTPEmail: async (request, ctx) => {
        const { input, output } = method.addOTPEmail;
        const userId = userIdOf(input, request.userId);
        return answer(output, { details: await this.commands.execute(new AddOTPEmailCommand(userId, requestContextOf(ctx))) });
      },

      removeOTPEmail: async (request, ctx) => {
        const { input, output } = method.removeOTPEmail;
        const userId = userIdOf(input, request.userId);
        const details = await this.commands.execute(new RemoveOTPEmailCommand(userId, requestContextOf(ctx)));
        return answer(output, { details });
      },

      listAuthenticationFactors: async (request, ctx) => {
        const { input, output } = method.listAuthenticationFactors;
        const userId = userIdOf(input, request.userId);
        const body = validBody(ListAuthenticationFactorsDto, toJson(input, request));
        // As the REST endpoint: no states asked for means the factors that are ready.
        const states = body.states?.length ? body.states : ['AUTH_FACTOR_STATE_READY'];
        const query = new ListAuthenticationFactorsQuery(userId, body.authFactors ?? [], states, requestContextOf(ctx));
        return answer(output, await this.queries.execute(query));
      },
    };
  }
}

function validBody<T extends object>(dto: Type<T>, json: JsonValue): T {
  return bodies.transform(json, { type: 'body', metatype: dto }) as T;
}

/** A response message from the REST answer, which is that message's protobuf JSON. */
function answer<Desc extends DescMessage>(output: Desc, json: object): MessageShape<Desc> {
  return fromJson(output, json as JsonValue);
}
