import { Module } from '@nestjs/common';
import { SecurityNotificationsController } from './security-notifications.controller';
import { SecurityNotificationsSubscriber } from './security-notifications.subscriber';

/** The subscribers this capability adds; the projections CLI lists their checkpoints. */
export const SECURITY_NOTIFICATION_SUBSCRIBERS = [SecurityNotificationsSubscriber];

/** Every removal of an OTP Email factor, recorded by a subscriber and listed for IAM owners. */
@Module({ controllers: [SecurityNotificationsController], providers: [...SECURITY_NOTIFICATION_SUBSCRIBERS] })
export class SecurityNotificationsModule {}
