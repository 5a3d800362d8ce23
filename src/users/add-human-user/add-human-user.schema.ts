import { ApiProperty, ApiSchema } from '@nestjs/swagger';
import { DetailsResponse } from '../details.schema';

/** The answer, for the OpenAPI document only. */
@ApiSchema({ name: 'zitadel.user.v2.AddHumanUserResponse' })
export class AddHumanUserResponse extends DetailsResponse {
  @ApiProperty({ description: 'The id of the new user: the one given, or a generated decimal string', example: '69629026806489455' })
  userId!: string;
}
