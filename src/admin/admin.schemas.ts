import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';

/* The shapes of the admin answers, for the OpenAPI document only: the handlers build plain objects. */

@ApiSchema({ name: 'mfa.admin.v1.ViewError', description: 'Why a view stopped: the event it could not apply.' })
export class ViewErrorSchema {
  @ApiProperty({ example: "Cannot read properties of null (reading 'userName')" })
  message!: string;

  @ApiProperty({ format: 'uint64', description: 'Global position of the event that failed', example: '1234' })
  sequence!: string;

  @ApiPropertyOptional({ example: 'user.human.email.changed' })
  eventType?: string;

  @ApiPropertyOptional({ description: 'The stream of the event', example: 'user-69629026806489455' })
  aggregateId?: string;

  @ApiProperty({ format: 'date-time' })
  failedAt!: string;
}

@ApiSchema({ name: 'mfa.admin.v1.ViewRebuild', description: 'A new generation being filled while the active one answers reads.' })
export class ViewRebuildSchema {
  @ApiProperty({ type: 'integer', example: 2 })
  generation!: number;

  @ApiProperty({ format: 'uint64', description: 'Global position the new generation has reached', example: '500000' })
  processedSequence!: string;

  @ApiPropertyOptional({ format: 'date-time' })
  eventTimestamp?: string;

  @ApiProperty({ format: 'date-time' })
  startedAt!: string;

  @ApiPropertyOptional({ type: () => ViewErrorSchema })
  error?: ViewErrorSchema;
}

@ApiSchema({
  name: 'zitadel.admin.v1.View',
  description: "ZITADEL's view fields, then this service's status fields of the view.",
})
export class ViewSchema {
  @ApiProperty({ description: '"projections" for read models, "subscriptions" for event subscriptions', example: 'projections' })
  database!: string;

  @ApiProperty({ example: 'users' })
  viewName!: string;

  @ApiProperty({ format: 'uint64', description: 'Global position of the last event the view processed', example: '1234' })
  processedSequence!: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'The time of the last event the view applied' })
  eventTimestamp?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'When the view last moved on' })
  lastSuccessfulSpoolerRun?: string;

  @ApiProperty({ type: 'integer', description: 'Version of the projection code', example: 1 })
  version!: number;

  @ApiPropertyOptional({ type: 'integer', description: 'The generation (table) that answers reads; left out when 0', example: 1 })
  generation?: number;

  @ApiProperty({ format: 'uint64', description: 'Global position of the last event in the log', example: '1240' })
  headSequence!: string;

  @ApiProperty({ format: 'uint64', description: 'Events in the log after processedSequence', example: '6' })
  lagEvents!: string;

  @ApiProperty({ type: 'number', description: 'How long the oldest event not yet processed has waited, in seconds', example: 0.25 })
  lagSeconds!: number;

  @ApiProperty({ enum: ['VIEW_STATE_RUNNING', 'VIEW_STATE_REBUILDING', 'VIEW_STATE_FAILED'] })
  state!: string;

  @ApiPropertyOptional({ type: () => ViewErrorSchema, description: 'Present when the view stopped on an event' })
  lastError?: ViewErrorSchema;

  @ApiPropertyOptional({ type: () => ViewRebuildSchema, description: 'Present while a ClearView rebuild is under way (or failed)' })
  rebuild?: ViewRebuildSchema;
}

@ApiSchema({ name: 'zitadel.admin.v1.ListViewsResponse' })
export class ListViewsResponseSchema {
  @ApiPropertyOptional({ type: () => [ViewSchema] })
  result?: ViewSchema[];
}

@ApiSchema({ name: 'zitadel.admin.v1.ClearViewResponse', description: 'Empty: the rebuild has started.' })
export class ClearViewResponseSchema {}
