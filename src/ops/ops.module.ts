import { DynamicModule, Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { Config } from '../config/config';
import { COMMAND_OBSERVER } from '../commands/stream-command.handler';
import { HealthController } from './health/health.controller';
import { MetricsController } from './metrics/metrics.controller';
import { MetricsService } from './metrics/metrics.service';
import { RequestRecorder } from './logging/request.recorder';

/** Running the service: structured logs, health probes and metrics. */
@Global()
@Module({})
export class OpsModule {
  static forRoot(_config: Config): DynamicModule {
    return {
      module: OpsModule,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController, MetricsController],
      providers: [MetricsService, RequestRecorder, { provide: COMMAND_OBSERVER, useExisting: MetricsService }],
      exports: [MetricsService, RequestRecorder, COMMAND_OBSERVER],
    };
  }
}
