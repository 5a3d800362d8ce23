import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';

/*
 * The shapes of the contract's answers (API.md), for the OpenAPI document only: the handlers build
 * plain objects. Texts in quotes come from ZITADEL's API page (shared/seed/remove-otp-email.txt).
 */

@ApiSchema({ name: 'zitadel.v1.ErrorDetail', description: 'The ZITADEL error id and text of an error.' })
export class ErrorDetail {
  @ApiProperty({ name: '@type', example: 'type.googleapis.com/zitadel.v1.ErrorDetail' })
  type!: string;

  @ApiProperty({ description: 'ZITADEL error id', example: 'COMMAND-b312D' })
  id!: string;

  @ApiProperty({ example: "Multifactor OTP (OneTimePassword) doesn't exist" })
  message!: string;
}

@ApiSchema({
  name: 'google.rpc.Status',
  description:
    'Every error answers this body; the HTTP status follows the code (3: 400, 5: 404, 6: 409, 7: 403, 8: 429, ' +
    '9: 400, 10: 409, 12: 501 or 405, 13: 500, 14: 503, 16: 401).',
})
export class RpcStatus {
  @ApiProperty({ type: 'integer', format: 'int32', description: 'gRPC status code', example: 5 })
  code!: number;

  @ApiProperty({
    description: 'The text, a space and the error id in parentheses',
    example: "Multifactor OTP (OneTimePassword) doesn't exist (COMMAND-b312D)",
  })
  message!: string;

  @ApiPropertyOptional({ type: () => [ErrorDetail], description: 'Absent when the error has no ZITADEL id' })
  details?: ErrorDetail[];
}

@ApiSchema({ name: 'zitadel.object.v2.Details' })
export class ObjectDetails {
  @ApiProperty({
    format: 'uint64',
    description:
      'on read: the sequence of the last event reduced by the projection\n' +
      'on manipulation: the timestamp of the event(s) added by the manipulation',
    example: '2',
  })
  sequence!: string;

  @ApiProperty({
    format: 'date-time',
    description:
      'on read: the timestamp of the last event reduced by the projection\n' +
      'on manipulation: the timestamp of the event(s) added by the manipulation',
    example: '2024-06-13T06:44:35.847Z',
  })
  changeDate!: string;

  @ApiProperty({ description: "the id of the user's organization", example: '69629023906488334' })
  resourceOwner!: string;
}

class DetailsResponse {
  @ApiProperty({ type: () => ObjectDetails })
  details!: ObjectDetails;
}

@ApiSchema({ name: 'zitadel.user.v2.RemoveOTPEmailResponse' })
export class RemoveOTPEmailResponse extends DetailsResponse {}

@ApiSchema({ name: 'zitadel.user.v2.AddOTPEmailResponse' })
export class AddOTPEmailResponse extends DetailsResponse {}

@ApiSchema({ name: 'zitadel.user.v2.SetEmailResponse' })
export class SetEmailResponse extends DetailsResponse {}

@ApiSchema({ name: 'zitadel.user.v2.DeleteUserResponse' })
export class DeleteUserResponse extends DetailsResponse {}

@ApiSchema({ name: 'zitadel.user.v2.AddHumanUserResponse' })
export class AddHumanUserResponse extends DetailsResponse {
  @ApiProperty({ description: 'The id of the new user: the one given, or a generated decimal string', example: '69629026806489455' })
  userId!: string;
}

@ApiSchema({ name: 'zitadel.user.v2.HumanProfile' })
export class HumanProfile {
  @ApiProperty({ example: 'Minnie' })
  givenName!: string;

  @ApiProperty({ example: 'Mouse' })
  familyName!: string;
}

@ApiSchema({ name: 'zitadel.user.v2.HumanEmail' })
export class HumanEmail {
  @ApiProperty({ example: 'mini@mouse.com' })
  email!: string;

  @ApiPropertyOptional({ description: 'Left out when false' })
  isVerified?: boolean;
}

@ApiSchema({ name: 'zitadel.user.v2.HumanUser' })
export class HumanUser {
  @ApiProperty({ type: () => HumanProfile })
  profile!: HumanProfile;

  @ApiProperty({ type: () => HumanEmail })
  email!: HumanEmail;
}

@ApiSchema({ name: 'zitadel.user.v2.User' })
export class User {
  @ApiProperty({ example: '69629026806489455' })
  userId!: string;

  @ApiProperty({ enum: ['USER_STATE_ACTIVE'], description: 'A user that exists is active' })
  state!: string;

  @ApiProperty({ example: 'minnie-mouse' })
  username!: string;

  @ApiProperty({ description: 'The username', example: 'minnie-mouse' })
  preferredLoginName!: string;

  @ApiProperty({ type: () => HumanUser })
  human!: HumanUser;
}

@ApiSchema({ name: 'zitadel.user.v2.GetUserByIDResponse' })
export class GetUserByIDResponse {
  @ApiProperty({ type: () => ObjectDetails, description: "Of the last event in the user's stream, whatever its type" })
  details!: ObjectDetails;

  @ApiProperty({ type: () => User })
  user!: User;
}

@ApiSchema({ name: 'zitadel.user.v2.AuthFactor' })
export class AuthFactor {
  @ApiProperty({
    enum: ['AUTH_FACTOR_STATE_UNSPECIFIED', 'AUTH_FACTOR_STATE_NOT_READY', 'AUTH_FACTOR_STATE_READY', 'AUTH_FACTOR_STATE_REMOVED'],
  })
  state!: string;

  @ApiProperty({ type: 'object', properties: {}, description: 'Present for an OTP Email factor; it has no fields', example: {} })
  otpEmail!: Record<string, never>;
}

@ApiSchema({ name: 'zitadel.user.v2.ListAuthenticationFactorsResponse' })
export class ListAuthenticationFactorsResponse {
  @ApiPropertyOptional({ type: () => [AuthFactor], description: 'Left out when there is no factor: the answer is {}' })
  result?: AuthFactor[];
}

/** @nestjs/terminus' report of /healthz and /readyz. */
@ApiSchema({ name: 'HealthReport' })
export class HealthReport {
  @ApiProperty({ enum: ['ok'] })
  status!: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Each check that passed, with its data' })
  info?: Record<string, unknown>;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  error?: Record<string, unknown>;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Every check, with its data' })
  details?: Record<string, unknown>;
}
