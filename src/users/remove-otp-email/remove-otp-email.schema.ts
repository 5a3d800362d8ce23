import { ApiSchema } from '@nestjs/swagger';
import { DetailsResponse } from '../details.schema';

/** The answer, for the OpenAPI document only. */
@ApiSchema({ name: 'zitadel.user.v2.RemoveOTPEmailResponse' })
export class RemoveOTPEmailResponse extends DetailsResponse {}
