import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';

/* The answer, for the OpenAPI document only: the handler builds a plain object. */

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
