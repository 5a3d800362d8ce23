import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Put } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { Ctx, RequestContext } from '../../auth/auth.guard';
import { ACTION_PROTO, type ActionProto } from './action-proto';
import { requestFromJson } from './action-messages';
import { ActionsApi } from './actions.api';

const OBJECT = { schema: { type: 'object' as const } };
const ID = { name: 'id', description: 'The id of the target', example: '69629026806489455' };
const OWNER = ' Needs the IAM_OWNER role.';

/**
 * zitadel.action.v2beta.ActionService at ZITADEL's REST paths (its grpc-gateway mapping). The
 * messages are ZITADEL's; the OpenAPI document names them rather than repeating them.
 */
@ApiTags('ActionService')
@Controller('v2beta/actions')
export class ActionsController {
  constructor(
    private readonly api: ActionsApi,
    @Inject(ACTION_PROTO) private readonly proto: ActionProto,
  ) {}

  private get method() {
    return this.proto.ActionService.method;
  }

  @Post('targets')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'CreateTarget',
    summary: 'Create Target',
    description: 'Create a new target (zitadel.action.v2beta.CreateTargetRequest); answers its id and signing key, which is shown only here.' + OWNER,
  })
  @ApiBody(OBJECT)
  @ApiOkResponse({ description: 'zitadel.action.v2beta.CreateTargetResponse', ...OBJECT })
  createTarget(@Body() body: unknown, @Ctx() context: RequestContext) {
    return this.api.createTarget(requestFromJson(this.method.createTarget.input, body), context);
  }

  @Post('targets/search')
  @HttpCode(200)
  @ApiOperation({ operationId: 'ListTargets', summary: 'List targets', description: 'zitadel.action.v2beta.ListTargetsRequest.' + OWNER })
  @ApiBody(OBJECT)
  @ApiOkResponse({ description: 'zitadel.action.v2beta.ListTargetsResponse', ...OBJECT })
  listTargets(@Body() body: unknown, @Ctx() context: RequestContext) {
    return this.api.listTargets(requestFromJson(this.method.listTargets.input, body), context);
  }

  @Get('targets/:id')
  @ApiOperation({ operationId: 'GetTarget', summary: 'Get Target', description: 'A target, without its signing key.' + OWNER })
  @ApiParam(ID)
  @ApiOkResponse({ description: 'zitadel.action.v2beta.GetTargetResponse', ...OBJECT })
  getTarget(@Param('id') id: string, @Ctx() context: RequestContext) {
    return this.api.getTarget(requestFromJson(this.method.getTarget.input, {}, { id }), context);
  }

  @Post('targets/:id')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'UpdateTarget',
    summary: 'Update Target',
    description: 'Changes the fields given; `expirationSigningKey` makes a new signing key, answered once.' + OWNER,
  })
  @ApiParam(ID)
  @ApiBody(OBJECT)
  @ApiOkResponse({ description: 'zitadel.action.v2beta.UpdateTargetResponse', ...OBJECT })
  updateTarget(@Param('id') id: string, @Body() body: unknown, @Ctx() context: RequestContext) {
    return this.api.updateTarget(requestFromJson(this.method.updateTarget.input, body, { id }), context);
  }

  @Delete('targets/:id')
  @ApiOperation({ operationId: 'DeleteTarget', summary: 'Delete Target', description: 'Idempotent; its executions stop calling it.' + OWNER })
  @ApiParam(ID)
  @ApiOkResponse({ description: 'zitadel.action.v2beta.DeleteTargetResponse', ...OBJECT })
  deleteTarget(@Param('id') id: string, @Ctx() context: RequestContext) {
    return this.api.deleteTarget(requestFromJson(this.method.deleteTarget.input, {}, { id }), context);
  }

  @Put('executions')
  @ApiOperation({
    operationId: 'SetExecution',
    summary: 'Set Execution',
    description:
      'Sets the targets called for an event condition ({"event": {"event"|"group"|"all": ...}}); an empty list removes it. ' +
      'Request, response and function conditions are 400 code 3.' + OWNER,
  })
  @ApiBody(OBJECT)
  @ApiOkResponse({ description: 'zitadel.action.v2beta.SetExecutionResponse', ...OBJECT })
  setExecution(@Body() body: unknown, @Ctx() context: RequestContext) {
    return this.api.setExecution(requestFromJson(this.method.setExecution.input, body), context);
  }

  @Post('executions/search')
  @HttpCode(200)
  @ApiOperation({ operationId: 'ListExecutions', summary: 'List Executions', description: 'zitadel.action.v2beta.ListExecutionsRequest.' + OWNER })
  @ApiBody(OBJECT)
  @ApiOkResponse({ description: 'zitadel.action.v2beta.ListExecutionsResponse', ...OBJECT })
  listExecutions(@Body() body: unknown, @Ctx() context: RequestContext) {
    return this.api.listExecutions(requestFromJson(this.method.listExecutions.input, body), context);
  }
}
