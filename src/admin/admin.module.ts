import { Module } from '@nestjs/common';
import { SecurityNotificationsController } from './security-notifications.controller';
import { ViewsController } from './views.controller';

/** The admin API (ZITADEL's admin service shape), for callers with the IAM_OWNER role. */
@Module({
  controllers: [ViewsController, SecurityNotificationsController],
})
export class AdminModule {}
