import { Module } from '@nestjs/common';
import { ViewsController } from './views.controller';

/** The admin API (ZITADEL's admin service shape), for callers with the IAM_OWNER role. */
@Module({
  controllers: [ViewsController],
})
export class AdminModule {}
