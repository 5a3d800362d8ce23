import { DynamicModule, Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { Config } from '../config/config';
import { COMMAND_OBSERVER } from '../commands/stream-command.handler';
import { HealthController } from './health/health.controller';
import { loggerParams } from './logging/logging.options';
import { MetricsController } from './metrics/metrics.controller';
import { MetricsService } from './metrics/metrics.service';

/** Running the service: structured logs, health probes and metrics. */
@Global()
@Module({})
export class OpsModule {
  static forRoot(config: Config): DynamicModule {
    return {
      module: OpsModule,
      imports: [LoggerModule.forRoot(loggerParams(config.logLevel)), TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController, MetricsController],
      providers: [MetricsService, { provide: COMMAND_OBSERVER, useExisting: MetricsService }],
      exports: [MetricsService, COMMAND_OBSERVER],
    };
  }
}
