import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';

/* The error body every endpoint answers, for the OpenAPI document only: the exception filter builds plain objects. */

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
