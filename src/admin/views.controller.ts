import { Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBadRequestResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Ctx, RequestContext } from '../auth/auth.guard';
import { authorizeEverywhere } from '../auth/permissions';
import { Errors } from '../errors/errors';
import { RpcStatus } from '../http-edge/rpc-status.schema';
import { EVENT_STORE, EventStore } from '../event-store/event-store.port';
import { ProjectionsService } from '../projections/projections.service';
import { SubscribersService } from '../subscribers/subscribers.service';
import { ClearViewResponseSchema, ListViewsResponseSchema } from './admin.schemas';
import { PROJECTIONS_DATABASE, SUBSCRIPTIONS_DATABASE, View, toView } from './views.mapper';

/** ZITADEL's admin API for views (ListViews, ClearView), for IAM owners. */
@ApiTags('AdminService')
@Controller('admin/v1/views')
export class ViewsController {
  constructor(
    @Inject(EVENT_STORE) private readonly events: EventStore,
    private readonly projections: ProjectionsService,
    private readonly subscribers: SubscribersService,
  ) {}

  @Post('_search')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'ListViews',
    summary: 'List the views and their state',
    description:
      'Every projection (database "projections") and every in-service subscriber (database "subscriptions") with ' +
      'the global position it has processed, its lag behind the log in events and seconds, the generation that answers ' +
      'reads, a rebuild under way, and the event it stopped at if it failed. Needs the IAM_OWNER role.',
  })
  @ApiOkResponse({ description: 'OK', type: ListViewsResponseSchema })
  async listViews(@Ctx() { caller }: RequestContext): Promise<{ result?: View[] }> {
    authorizeEverywhere(caller, 'projection.admin');
    const head = await this.events.headPosition();
    const views = [
      ...(await this.projections.describe(head)).map((status) => toView(PROJECTIONS_DATABASE, status)),
      ...(await this.subscribers.describe(head)).map((status) => toView(SUBSCRIPTIONS_DATABASE, status)),
    ];
    return views.length ? { result: views } : {};
  }

  @Post(':database/:viewName')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'ClearView',
    summary: 'Rebuild a view from the first event',
    description:
      'Starts filling a new generation of the view from the first event, in the background, and answers at once. The ' +
      'current generation keeps answering reads until the new one has caught up, then reads switch over atomically; ' +
      'ListViews shows the progress under `rebuild`. A view that had stopped on an event resumes once its rebuild ' +
      'switches over. Needs the IAM_OWNER role.',
  })
  @ApiParam({ name: 'database', example: PROJECTIONS_DATABASE })
  @ApiParam({ name: 'viewName', example: 'users' })
  @ApiOkResponse({ description: 'OK: the rebuild has started', type: ClearViewResponseSchema })
  @ApiBadRequestResponse({ description: 'The view is a subscription, which is never replayed (ADMIN-v1ew1).', type: RpcStatus })
  async clearView(
    @Param('database') database: string,
    @Param('viewName') viewName: string,
    @Ctx() { caller }: RequestContext,
  ): Promise<Record<string, never>> {
    authorizeEverywhere(caller, 'projection.admin');
    if (database === PROJECTIONS_DATABASE && this.projections.has(viewName)) {
      await this.projections.rebuild(viewName);
      return {};
    }
    if (database === SUBSCRIPTIONS_DATABASE && this.subscribers.has(viewName)) throw Errors.viewNotClearable();
    throw Errors.viewNotFound();
  }
}
