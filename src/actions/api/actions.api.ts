import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type {
  CreateTargetRequest,
  DeleteTargetRequest,
  GetTargetRequest,
  ListExecutionsRequest,
  ListTargetsRequest,
  SetExecutionRequest,
  UpdateTargetRequest,
} from '@zitadel/proto/zitadel/action/v2beta/action_service_pb.js';
import type { Condition } from '@zitadel/proto/zitadel/action/v2beta/execution_pb.js';
import type { Duration } from '@bufbuild/protobuf/wkt';
import { authorizeEverywhere } from '../../auth/permissions';
import { CommandContext, Decider, StreamCommandHandler } from '../../commands/stream-command.handler';
import { Config } from '../../config/config';
import { CONFIG } from '../../config/config.module';
import { Errors } from '../../errors/errors';
import { MAX_LIST_LIMIT, MAX_LIST_OFFSET, listLimit } from '../../http-edge/list-query.dto';
import { ID_GENERATOR, IdGenerator } from '../../shared/id-generator';
import { ACTIONS_STREAM, ActionEvent, EventCondition, TargetType } from '../action.events';
import { ActionsState, ExecutionState, TargetState, evolveActions, initialActionsState } from '../actions.state';
import { decideCreateTarget } from '../create-target/create-target.decide';
import { decideDeleteTarget } from '../delete-target/delete-target.decide';
import { AnyCondition, checkSetExecution, decideSetExecution } from '../set-execution/set-execution.decide';
import { SIGNING_KEY_CIPHER, SigningKeyCipher } from '../signing-key-cipher';
import { checkTargetFields } from '../target.rules';
import { decideUpdateTarget } from '../update-target/update-target.decide';

/** Makes the keys targets check signatures with; tests may pin them. */
export interface SigningKeySource {
  next(): string;
}
export const SIGNING_KEY_SOURCE = Symbol('SigningKeySource');
/** 32 random bytes, as letters and digits a header and a config file carry unchanged. */
export const randomSigningKeys: SigningKeySource = { next: () => randomBytes(32).toString('base64url') };

const actionsDecider: Decider<ActionsState> = { initialState: initialActionsState, evolve: evolveActions };

const DEFAULT_TIMEOUT_MS = 10_000;

type Json = Record<string, unknown>;

/**
 * zitadel.action.v2beta.ActionService: every method takes the request message (REST makes it from
 * the body with fromJson, RPC gets it) and answers the response's protobuf JSON, so both forms
 * check and answer alike. IAM_OWNER only; targets and executions are events of one stream.
 */
@Injectable()
export class ActionsApi {
  constructor(
    private readonly commands: StreamCommandHandler,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    @Inject(SIGNING_KEY_SOURCE) private readonly keys: SigningKeySource,
    @Inject(SIGNING_KEY_CIPHER) private readonly cipher: SigningKeyCipher,
  ) {}

  async createTarget(request: CreateTargetRequest, context: CommandContext): Promise<Json> {
    if (!request.targetType.case) {
      throw Errors.invalidArgument('invalid targetType: give one of restWebhook, restCall or restAsync');
    }
    const signingKey = this.keys.next();
    const command = {
      targetId: this.ids.userId(),
      name: request.name,
      ...typeOf(request.targetType),
      timeoutMs: request.timeout ? millisOf(request.timeout) : DEFAULT_TIMEOUT_MS,
      endpoint: request.endpoint,
      signingKey: this.cipher.seal(signingKey),
    };
    checkTargetFields(command);
    const { appended } = await this.decide(context, (state) => decideCreateTarget(command, state));
    return { id: command.targetId, creationDate: appended[0].createdAt.toISOString(), signingKey };
  }

  async updateTarget(request: UpdateTargetRequest, context: CommandContext): Promise<Json> {
    const rotation = request.expirationSigningKey;
    if (rotation && (rotation.seconds !== 0n || rotation.nanos !== 0)) {
      // As ZITADEL: the old key is not kept beside the new one, so no grace period can be promised.
      throw Errors.invalidArgument('invalid expirationSigningKey: only an immediate rotation ("0s") is supported');
    }
    const signingKey = rotation ? this.keys.next() : undefined;
    const command = {
      targetId: request.id,
      name: request.name,
      ...(request.targetType.case ? typeOf(request.targetType) : {}),
      timeoutMs: request.timeout ? millisOf(request.timeout) : undefined,
      endpoint: request.endpoint,
      signingKey: signingKey && this.cipher.seal(signingKey),
    };
    checkTargetFields(command);
    const { state, appended } = await this.decide(context, (state) => decideUpdateTarget(command, state));
    const changeDate = appended.length ? appended[0].createdAt : state.targets.get(request.id)!.changedAt;
    return { changeDate: changeDate.toISOString(), ...(signingKey && appended.length ? { signingKey } : {}) };
  }

  async deleteTarget(request: DeleteTargetRequest, context: CommandContext): Promise<Json> {
    const { appended } = await this.decide(context, (state) => decideDeleteTarget({ targetId: request.id }, state));
    return appended.length ? { deletionDate: appended[0].createdAt.toISOString() } : {};
  }

  async getTarget(request: GetTargetRequest, context: CommandContext): Promise<Json> {
    const state = await this.read(context);
    const target = state.targets.get(request.id);
    if (!target) throw Errors.targetNotFound();
    return { target: targetJson(target) };
  }

  async listTargets(request: ListTargetsRequest, context: CommandContext): Promise<Json> {
    checkPagination(request.pagination);
    const state = await this.read(context);
    const targets = [...state.targets.values()].filter((target) =>
      request.filters.every(({ filter }) => {
        if (filter.case === 'inTargetIdsFilter') return filter.value.targetIds.includes(target.id);
        if (filter.case === 'targetNameFilter') return textMatches(target.name, filter.value.targetName, filter.value.method);
        return true;
      }),
    );
    const { page, pagination } = paged(targets, request.pagination, TARGET_COLUMNS[request.sortingColumn ?? -1] ?? TARGET_COLUMNS[2]);
    return { pagination, ...(page.length ? { targets: page.map(targetJson) } : {}) };
  }

  async setExecution(request: SetExecutionRequest, context: CommandContext): Promise<Json> {
    const command = { condition: conditionOf(request.condition), targets: request.targets };
    const condition = checkSetExecution(command);
    const { state, appended } = await this.decide(context, (state) => decideSetExecution(command, state));
    const known = [...state.executions.values()].find((e) => sameCondition(e.condition, condition));
    const setDate = appended[0]?.createdAt ?? known?.changedAt;
    return setDate ? { setDate: setDate.toISOString() } : {};
  }

  async listExecutions(request: ListExecutionsRequest, context: CommandContext): Promise<Json> {
    checkPagination(request.pagination);
    const state = await this.read(context);
    const executions = [...state.executions.values()].filter((execution) =>
      request.filters.every(({ filter }) => {
        if (filter.case === 'targetFilter') return execution.targets.includes(filter.value.targetId);
        if (filter.case === 'inConditionsFilter') {
          return filter.value.conditions.some((c) => {
            const wanted = conditionOf(c);
            return wanted.kind === 'event' && sameCondition(wanted.condition, execution.condition);
          });
        }
        // Every execution here is of the event type.
        if (filter.case === 'executionTypeFilter') return [EXECUTION_TYPE_UNSPECIFIED, EXECUTION_TYPE_EVENT].includes(filter.value.executionType);
        return true;
      }),
    );
    const { page, pagination } = paged(executions, request.pagination, EXECUTION_COLUMNS[request.sortingColumn ?? -1] ?? EXECUTION_COLUMNS[2]);
    return { pagination, ...(page.length ? { executions: page.map(executionJson) } : {}) };
  }

  private async decide(
    context: CommandContext,
    decide: (state: ActionsState) => ActionEvent[],
  ): Promise<{ state: ActionsState; appended: { createdAt: Date }[] }> {
    authorizeEverywhere(context.caller, 'action.admin');
    const resourceOwner = this.config.actions.instanceId;
    const { state, appended } = await this.commands.handle(
      ACTIONS_STREAM,
      actionsDecider,
      (state) => decide(state).map((event) => ({ ...event, resourceOwner })),
      context,
    );
    return { state, appended };
  }

  private async read(context: CommandContext): Promise<ActionsState> {
    authorizeEverywhere(context.caller, 'action.admin');
    return (await this.commands.load(ACTIONS_STREAM, actionsDecider)).state;
  }
}

function typeOf(type: CreateTargetRequest['targetType']): { targetType: TargetType; interruptOnError: boolean } {
  if (type.case === 'restWebhook' || type.case === 'restCall') return { targetType: type.case, interruptOnError: type.value.interruptOnError };
  return { targetType: 'restAsync', interruptOnError: false };
}

function millisOf(duration: Duration): number {
  return Number(duration.seconds) * 1000 + Math.floor(duration.nanos / 1_000_000);
}

/** A condition of the request, as the rule takes it. */
export function conditionOf(condition: Condition | undefined): AnyCondition {
  const type = condition?.conditionType;
  if (!type?.case) return { kind: 'none' };
  if (type.case !== 'event') return { kind: type.case };
  const event = type.value.condition;
  if (event.case === 'event') return { kind: 'event', condition: { event: event.value } };
  if (event.case === 'group') return { kind: 'event', condition: { group: event.value } };
  if (event.case === 'all' && event.value) return { kind: 'event', condition: { all: true } };
  throw Errors.invalidArgument('invalid condition.event: give one of event, group or all (true)');
}

const sameCondition = (a: EventCondition, b: EventCondition): boolean => JSON.stringify(a) === JSON.stringify(b);

function textMatches(value: string, wanted: string, method: number): boolean {
  const [v, w] = method % 2 === 1 ? [value.toLowerCase(), wanted.toLowerCase()] : [value, wanted];
  if (method <= 1) return v === w;
  if (method <= 3) return v.startsWith(w);
  if (method <= 5) return v.includes(w);
  return v.endsWith(w);
}

/** zitadel.action.v2beta.ExecutionType's values (the proto package is an ES module: its enums are not imported at run time). */
const EXECUTION_TYPE_UNSPECIFIED = 0;
const EXECUTION_TYPE_EVENT = 3;

/** ZITADEL's order of target types, as it stores them. */
const TARGET_TYPE_ORDER: Record<TargetType, number> = { restWebhook: 0, restCall: 1, restAsync: 2 };

/**
 * The value a list is sorted by, for each sorting column of TargetFieldName and ExecutionFieldName.
 * As ZITADEL: UNSPECIFIED given is the id; no column, or one it does not know, is the creation date.
 */
const TARGET_COLUMNS: Record<number, (t: TargetState) => string | number> = {
  0: (t) => t.id,
  1: (t) => t.id,
  2: (t) => t.createdAt.getTime(),
  3: (t) => t.changedAt.getTime(),
  4: (t) => t.name,
  5: (t) => TARGET_TYPE_ORDER[t.targetType],
  6: (t) => t.endpoint,
  7: (t) => t.timeoutMs,
  8: (t) => Number(t.interruptOnError),
};
const EXECUTION_COLUMNS: Record<number, (e: ExecutionState) => string | number> = {
  0: (e) => e.id,
  1: (e) => e.id,
  2: (e) => e.createdAt.getTime(),
  3: (e) => e.changedAt.getTime(),
};

/** As every list's query: a page too large, or an offset no store could skip to, is 400 code 3 naming the field. */
function checkPagination(pagination: ListTargetsRequest['pagination']): void {
  if ((pagination?.limit ?? 0) > MAX_LIST_LIMIT) throw Errors.invalidArgument(`invalid pagination.limit: must not be greater than ${MAX_LIST_LIMIT}`);
  if ((pagination?.offset ?? 0n) > BigInt(MAX_LIST_OFFSET)) {
    throw Errors.invalidArgument(`invalid pagination.offset: must not be greater than ${MAX_LIST_OFFSET}`);
  }
}

/**
 * A page as ZITADEL answers it: sorted by the column asked for, descending unless `asc`; equal
 * values in id order.
 */
function paged<T extends { id: string }>(
  items: T[],
  pagination: ListTargetsRequest['pagination'],
  column: (item: T) => string | number,
): { page: T[]; pagination: Json } {
  const limit = listLimit(pagination?.limit);
  const offset = Number(pagination?.offset ?? 0n);
  const order = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
  const direction = pagination?.asc ? 1 : -1;
  const sorted = [...items].sort((a, b) => direction * (order(column(a), column(b)) || order(a.id, b.id)));
  return { page: sorted.slice(offset, offset + limit), pagination: { totalResult: String(items.length), appliedLimit: String(limit) } };
}

function durationJson(ms: number): string {
  return `${ms / 1000}s`;
}

/** A target as GetTarget shows it: everything but the signing key, which only CreateTarget answers. */
function targetJson(target: TargetState): Json {
  const type = target.targetType === 'restAsync' || !target.interruptOnError ? {} : { interruptOnError: true };
  return {
    id: target.id,
    creationDate: target.createdAt.toISOString(),
    changeDate: target.changedAt.toISOString(),
    name: target.name,
    [target.targetType]: type,
    timeout: durationJson(target.timeoutMs),
    endpoint: target.endpoint,
  };
}

function executionJson(execution: ExecutionState): Json {
  return {
    condition: { event: execution.condition },
    creationDate: execution.createdAt.toISOString(),
    changeDate: execution.changedAt.toISOString(),
    targets: [...execution.targets],
  };
}
