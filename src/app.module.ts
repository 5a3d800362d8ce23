import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { AdminModule } from './admin/admin.module';
import { AuthModule } from './auth/auth.module';
import { Config } from './config/config';
import { ConfigModule } from './config/config.module';
import { ContractExceptionFilter } from './errors/contract-exception.filter';
import { StoreModule } from './event-store/store.module';
import { EventsStreamModule } from './events-stream/events-stream.module';
import { OpsModule } from './ops/ops.module';
import { GrpcModule } from './grpc/grpc.module';
import { CLOCK, Clock, systemClock } from './shared/clock';
import { ID_GENERATOR, SnowflakeIdGenerator } from './shared/id-generator';
import { BodyValidationPipe } from './shared/validation';
import { UsersModule } from './users/users.module';

@Global()
@Module({})
export class AppModule {
  static forRoot(config: Config, clock: Clock = systemClock): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        CqrsModule.forRoot(),
        StoreModule,
        AuthModule,
        UsersModule,
        GrpcModule,
        OpsModule.forRoot(config),
        AdminModule,
        EventsStreamModule,
      ],
      providers: [
        { provide: CLOCK, useValue: clock },
        { provide: ID_GENERATOR, inject: [CLOCK], useFactory: (c: Clock) => new SnowflakeIdGenerator(c) },
        { provide: APP_FILTER, useClass: ContractExceptionFilter },
        { provide: APP_PIPE, useClass: BodyValidationPipe },
      ],
      exports: [CLOCK, ID_GENERATOR],
    };
  }
}
