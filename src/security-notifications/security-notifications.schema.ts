import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';

/* The shape of ListSecurityNotifications' answer, for the OpenAPI document only. */

@ApiSchema({ name: 'mfa.admin.v1.SecurityNotification' })
export class SecurityNotificationSchema {
  @ApiProperty({ format: 'uint64', description: 'Global position of the event; the id of the notification', example: '1234' })
  sequence!: string;

  @ApiProperty({ example: 'user.human.mfa.otp.email.removed' })
  type!: string;

  @ApiProperty({ example: '69629026806489455' })
  userId!: string;

  @ApiProperty({ example: '69629023906488334' })
  resourceOwner!: string;

  @ApiProperty({ description: 'Who removed it (the event creator)', example: '69629012906488334' })
  creator!: string;

  @ApiProperty({ format: 'date-time', description: 'When' })
  creationDate!: string;

  @ApiProperty({ description: 'The request that did it' })
  correlationId!: string;
}

@ApiSchema({ name: 'zitadel.v1.ListDetails' })
export class ListDetailsSchema {
  @ApiProperty({ format: 'uint64', example: '3' })
  totalResult!: string;

  @ApiProperty({ format: 'uint64', description: 'Global position up to which the list is complete', example: '1234' })
  processedSequence!: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'When the list last moved on' })
  timestamp?: string;
}

@ApiSchema({ name: 'mfa.admin.v1.ListSecurityNotificationsResponse' })
export class ListSecurityNotificationsResponseSchema {
  @ApiProperty({ type: () => ListDetailsSchema })
  details!: ListDetailsSchema;

  @ApiPropertyOptional({ type: () => [SecurityNotificationSchema] })
  result?: SecurityNotificationSchema[];
}
