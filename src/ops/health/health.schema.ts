import { ApiProperty, ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';

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
