import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Ctx, RequestContext } from '../auth/auth.guard';
import { authorizeEverywhere } from '../auth/permissions';
import { READ_MODEL_STORE, ReadModelStore } from '../event-store/read-model.port';
import { SecurityNotificationsSubscriber } from './security-notifications.subscriber';
import { securityNotificationsView } from './security-notifications.view';
import { subscriberNameOf, subscriptionView } from '../subscribers/subscribers.service';
import { ListSecurityNotificationsResponseSchema } from './security-notifications.schema';
import { listLimit } from '../http-edge/list-query.dto';
import { ListSecurityNotificationsDto } from './security-notifications.dto';

export interface SecurityNotificationResult {
  sequence: string;
  type: string;
  userId: string;
  resourceOwner: string;
  creator: string;
  creationDate: string;
  correlationId: string;
}

export interface ListSecurityNotificationsResponse {
  details: { totalResult: string; processedSequence: string; timestamp?: string };
  result?: SecurityNotificationResult[];
}

/** The checkpoint of the subscriber that writes the notifications. */
const SUBSCRIPTION = subscriptionView(subscriberNameOf(SecurityNotificationsSubscriber));

/** The security-notification log kept by SecurityNotificationsSubscriber, for IAM owners. */
@ApiTags('AdminService')
@Controller('admin/v1/security_notifications')
export class SecurityNotificationsController {
  constructor(
    @Inject(READ_MODEL_STORE) private readonly readModels: ReadModelStore,
  ) {}

  @Post('_search')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'ListSecurityNotifications',
    summary: 'List security notifications',
    description:
      'Every removal of an OTP Email factor, with who removed it (creator) and when, newest first unless `query.asc`. ' +
      'Written by an in-service subscriber from committed events, so a removal shows here shortly after it answered. ' +
      'Body: `{"query":{"offset":"0","limit":100,"asc":false}}`, all optional (limit at most 1000). Needs the IAM_OWNER role.',
  })
  @ApiBody({ type: ListSecurityNotificationsDto, required: false })
  @ApiOkResponse({ description: 'OK', type: ListSecurityNotificationsResponseSchema })
  async list(
    @Body() body: ListSecurityNotificationsDto,
    @Ctx() { caller }: RequestContext,
  ): Promise<ListSecurityNotificationsResponse> {
    authorizeEverywhere(caller, 'projection.admin');
    const query = body.query ?? {};
    const checkpoint = await this.readModels.checkpoint(securityNotificationsView);
    const subscription = await this.readModels.checkpoint(SUBSCRIPTION);
    const { total, documents } = await this.readModels.list(securityNotificationsView, {
      offset: query.offset ?? 0,
      limit: listLimit(query.limit),
      descending: !query.asc,
    });
    const result = documents.map(({ position, ...notification }) => ({ sequence: String(position), ...notification }));
    return {
      details: {
        totalResult: String(total),
        // Every event up to the subscription's position has been handed to the subscriber.
        processedSequence: String(subscription.position),
        ...(checkpoint.updatedAt ? { timestamp: checkpoint.updatedAt.toISOString() } : {}),
      },
      ...(result.length ? { result } : {}),
    };
  }
}
