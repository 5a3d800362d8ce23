import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsObject, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';
import { Ctx, RequestContext } from '../../auth/auth.guard';
import { authorizeEverywhere } from '../../auth/permissions';
import { Errors } from '../../errors/errors';
import { enumByNumber } from '../../http-edge/enum-by-number';
import { ListQueryDto, listLimit } from '../../http-edge/list-query.dto';
import { DeliveriesService } from './deliveries.service';
import { Delivery, DeliveryState } from './outbox.port';

/** The states by name, in the order of their numbers (a client may give either, as protobuf JSON allows). */
const STATE_ENUM = ['DELIVERY_STATE_UNSPECIFIED', 'DELIVERY_STATE_PENDING', 'DELIVERY_STATE_DELIVERED', 'DELIVERY_STATE_PARKED'] as const;
/** What each name filters by; DELIVERY_STATE_UNSPECIFIED is not here: it filters by nothing. */
const STATES: Partial<Record<string, DeliveryState>> = {
  DELIVERY_STATE_PENDING: 'pending',
  DELIVERY_STATE_DELIVERED: 'delivered',
  DELIVERY_STATE_PARKED: 'parked',
};
const STATE_NAMES = Object.fromEntries(Object.entries(STATES).map(([name, state]) => [state, name]));

export class SearchDeliveriesDto {
  @IsOptional() @IsString() @MaxLength(200) targetId?: string;
  @IsOptional()
  @Transform(enumByNumber(STATE_ENUM))
  @IsIn(STATE_ENUM, { message: `must be one of ${STATE_ENUM.join(', ')}` })
  state?: string;
  @IsOptional() @IsObject() @ValidateNested() @Type(() => ListQueryDto) query?: ListQueryDto;
}

/** No fields: send {} or nothing. */
export class RedeliverBody {}

const OBJECT = { schema: { type: 'object' as const } };

/** The deliveries to Actions targets, for IAM owners: what is pending, delivered or parked, and putting parked ones back in line. */
@ApiTags('AdminService')
@Controller('admin/v1/actions/deliveries')
export class DeliveriesController {
  constructor(private readonly deliveries: DeliveriesService) {}

  @Post('_search')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'SearchDeliveries',
    summary: 'List deliveries to Actions targets',
    description:
      'Newest first. Body, all optional: `{"targetId": "...", "state": "DELIVERY_STATE_PARKED", "query": {"offset": "0", "limit": 100, "asc": false}}`; ' +
      '`state` by name or by number (1 pending, 2 delivered, 3 parked; 0 or DELIVERY_STATE_UNSPECIFIED: any). ' +
      'Needs the IAM_OWNER role.',
  })
  @ApiBody({ type: SearchDeliveriesDto, required: false })
  @ApiOkResponse({ description: '`{"details": {"totalResult"}, "result": [{"id", "targetId", "eventType", "aggregateId", "sequence", "state", "attempts", "lastError", "nextAttemptAt"}]}`', ...OBJECT })
  async search(@Body() body: SearchDeliveriesDto, @Ctx() { caller }: RequestContext) {
    authorizeEverywhere(caller, 'action.admin');
    const { total, deliveries } = await this.deliveries.search({
      targetId: body.targetId,
      state: body.state ? STATES[body.state] : undefined,
      offset: body.query?.offset ?? 0,
      limit: listLimit(body.query?.limit),
      ascending: body.query?.asc === true,
    });
    return { details: { totalResult: String(total) }, ...(deliveries.length ? { result: deliveries.map(deliveryJson) } : {}) };
  }

  @Post(':id/_redeliver')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'RedeliverDelivery',
    summary: 'Put a parked delivery back in line',
    description: 'It is tried again at once, its tries counted from 0. Needs the IAM_OWNER role.',
  })
  @ApiParam({ name: 'id', example: '42' })
  @ApiOkResponse({ description: 'OK', ...OBJECT })
  @ApiBody({ type: RedeliverBody, required: false })
  async redeliver(
    @Param('id') id: string,
    @Body() _body: RedeliverBody,
    @Ctx() { caller }: RequestContext,
  ): Promise<Record<string, never>> {
    if (!/^\d{1,15}$/.test(id)) throw Errors.invalidArgument('invalid id: must be the decimal id of a delivery');
    authorizeEverywhere(caller, 'action.admin');
    const outcome = await this.deliveries.redeliver(Number(id));
    if (outcome === 'not_found') throw Errors.deliveryNotFound();
    if (outcome === 'not_parked') throw Errors.deliveryNotParked();
    if (outcome === 'target_deleted') throw Errors.deliveryTargetDeleted();
    return {};
  }
}

function deliveryJson(delivery: Delivery) {
  return {
    id: String(delivery.id),
    targetId: delivery.targetId,
    eventType: delivery.eventType,
    aggregateId: delivery.aggregateId,
    sequence: String(delivery.sequence),
    state: STATE_NAMES[delivery.state],
    ...(delivery.attempts ? { attempts: delivery.attempts } : {}),
    ...(delivery.lastError ? { lastError: delivery.lastError } : {}),
    ...(delivery.state === 'pending' ? { nextAttemptAt: delivery.nextAttemptAt.toISOString() } : {}),
  };
}
