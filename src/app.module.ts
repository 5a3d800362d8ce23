import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { ActionsModule } from './actions/actions.module';
import { AdminModule } from './admin/admin.module';
import { AuthModule } from './auth/auth.module';
import { Config } from './config/config';
import { ConfigModule } from './config/config.module';
import { ContractExceptionFilter } from './http-edge/contract-exception.filter';
import { CommandsModule } from './commands/commands.module';
import { StoreModule } from './event-store/stores';
import { EventsStreamModule } from './events-stream/events-stream.module';
import type { Logger as Pino } from 'pino';
import { createRootLogger } from './ops/logging/logger';
import { ROOT_LOG } from './ops/logging/request.recorder';
import { OpsModule } from './ops/ops.module';
import { ProjectionsModule } from './projections/projections.module';
import { SecurityNotificationsModule } from './security-notifications/security-notifications.module';
import { SubscribersModule } from './subscribers/subscribers.module';
import { GrpcModule } from './grpc/grpc.module';
import { CLOCK, Clock, systemClock } from './shared/clock';
import { ID_GENERATOR, SnowflakeIdGenerator } from './shared/id-generator';
import { BodyValidationPipe } from './http-edge/validation.pipes';
import { USER_PROJECTIONS } from './users/read-models/user.projections';
import { UsersModule } from './users/users.module';

@Global()
@Module({})
export class AppModule {
  static forRoot(config: Config, clock: Clock = systemClock, log: Pino = createRootLogger(config.logLevel)): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        CqrsModule.forRoot(),
        StoreModule.forRoot(USER_PROJECTIONS),
        ProjectionsModule,
        CommandsModule,
        SubscribersModule,
        AuthModule,
        UsersModule,
        GrpcModule,
        OpsModule.forRoot(config),
        AdminModule,
        SecurityNotificationsModule,
        EventsStreamModule,
        ActionsModule,
      ],
      providers: [
        { provide: CLOCK, useValue: clock },
        { provide: ROOT_LOG, useValue: log },
        { provide: ID_GENERATOR, inject: [CLOCK], useFactory: (c: Clock) => new SnowflakeIdGenerator(c) },
        { provide: APP_FILTER, useClass: ContractExceptionFilter },
        { provide: APP_PIPE, useClass: BodyValidationPipe },
      ],
      exports: [CLOCK, ID_GENERATOR, ROOT_LOG],
    };
  }
}
