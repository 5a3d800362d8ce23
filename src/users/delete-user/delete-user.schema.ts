import { ApiSchema } from '@nestjs/swagger';
import { DetailsResponse } from '../details.schema';

/** The answer, for the OpenAPI document only. */
@ApiSchema({ name: 'zitadel.user.v2.DeleteUserResponse' })
export class DeleteUserResponse extends DetailsResponse {}
