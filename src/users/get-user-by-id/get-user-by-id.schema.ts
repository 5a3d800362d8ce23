import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';

import { ObjectDetails } from '../details.schema';

/* The answer, for the OpenAPI document only: the handler builds a plain object. */

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
