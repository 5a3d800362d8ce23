import { ApiProperty, ApiSchema } from '@nestjs/swagger';

/* The shapes of the answers, for the OpenAPI document only: the handlers build plain objects. */

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

/** The answer of the user service's writes: their details. */
export class DetailsResponse {
  @ApiProperty({ type: () => ObjectDetails })
  details!: ObjectDetails;
}
