import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import { Registry } from 'prom-client';
import { Public } from '../../auth/auth.guard';
import { MetricsService } from './metrics.service';

@ApiTags('Operations')
@Controller()
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get('metrics')
  @Public()
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @ApiOperation({
    operationId: 'Metrics',
    summary: 'Prometheus metrics',
    description:
      'Requests by route and status with latency, commands by outcome, concurrency conflicts and retries, appends, ' +
      "the event store's head and each projection's position and lag, and the process' own metrics, in the " +
      'Prometheus text format. Needs no token.',
    security: [],
  })
  @ApiProduces(Registry.PROMETHEUS_CONTENT_TYPE)
  @ApiOkResponse({ description: 'The metrics, in the Prometheus text exposition format.', schema: { type: 'string' } })
  scrape(): Promise<string> {
    return this.metrics.scrape();
  }
}
