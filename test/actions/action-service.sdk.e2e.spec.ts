import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Code, ConnectError, createClient, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { RunningServer, startServer, stopAll } from '../support/server';

/** ZITADEL's descriptors; @zitadel/proto is an ES module whose CommonJS build does not load, hence import(). */
const loadProto = async () => {
  const [service, message] = await Promise.all([
    import('@zitadel/proto/zitadel/action/v2beta/action_service_pb.js'),
    import('@zitadel/proto/zitadel/message_pb.js'),
  ]);
  return { ActionService: service.ActionService, ErrorDetailSchema: message.ErrorDetailSchema };
};

const bearer = (token: string): Interceptor => (next) => (request) => {
  request.header.set('authorization', `Bearer ${token}`);
  return next(request);
};

/** zitadel.action.v2beta.ActionService, as a ZITADEL user writes a client for it: createClient with the descriptor. */
describe('zitadel.action.v2beta.ActionService through a Connect client', () => {
  const run = Math.random().toString(36).slice(2, 8);
  const org = `org-${run}`;
  let server: RunningServer;
  let proto: Awaited<ReturnType<typeof loadProto>>;
  let admin: string;
  let manager: string;

  before(async () => {
    [server, proto] = await Promise.all([startServer(), loadProto()]);
    admin = await server.token({ sub: `admin-${run}`, org, roles: { IAM_OWNER: [org] } });
    manager = await server.token({ sub: `manager-${run}`, org, roles: { IAM_USER_MANAGER: [org] } });
  });
  after(stopAll);

  const transports: Array<{ name: string; make: (token: string) => Transport }> = [
    { name: 'Connect', make: (token) => createConnectTransport({ baseUrl: server.url, httpVersion: '1.1', interceptors: [bearer(token)] }) },
    { name: 'gRPC-web', make: (token) => createGrpcWebTransport({ baseUrl: server.url, httpVersion: '1.1', interceptors: [bearer(token)] }) },
    { name: 'gRPC', make: (token) => createGrpcTransport({ baseUrl: server.grpcUrl, interceptors: [bearer(token)] }) },
  ];

  for (const { name, make } of transports) {
    it(`${name}: creates a target and sets an execution for it`, async () => {
      const actions = createClient(proto.ActionService, make(admin));
      const created = await actions.createTarget({
        name: `alerts ${name} ${run}`,
        targetType: { case: 'restWebhook', value: { interruptOnError: true } },
        timeout: { seconds: 10n, nanos: 0 },
        endpoint: 'https://alerts.example.com/zitadel',
      });
      assert.match(created.id, /^\d+$/);
      assert.ok(created.signingKey.length >= 32);
      assert.ok(created.creationDate);

      const set = await actions.setExecution({
        condition: { conditionType: { case: 'event', value: { condition: { case: 'event', value: 'user.human.mfa.otp.email.removed' } } } },
        targets: [created.id],
      });
      assert.ok(set.setDate);

      const { target } = await actions.getTarget({ id: created.id });
      assert.equal(target?.endpoint, 'https://alerts.example.com/zitadel');
      assert.equal(target?.targetType.case, 'restWebhook');
      assert.equal(target?.timeout?.seconds, 10n);
      assert.equal(target?.signingKey, '', 'the signing key is answered by CreateTarget only');

      const { executions } = await actions.listExecutions({});
      const execution = executions.find((e) => e.targets.includes(created.id));
      assert.equal(execution?.condition?.conditionType.case, 'event');
      const { targets, pagination } = await actions.listTargets({});
      assert.ok(targets.some((t) => t.id === created.id));
      assert.ok((pagination?.totalResult ?? 0n) >= 1n);
    });
  }

  it('refuses other conditions with INVALID_ARGUMENT, other callers with PERMISSION_DENIED, unknown targets with NOT_FOUND', async () => {
    const actions = createClient(proto.ActionService, transports[0].make(admin));
    const failure = async (call: Promise<unknown>) => {
      try {
        await call;
      } catch (error) {
        const e = ConnectError.from(error);
        return { code: e.code, message: e.rawMessage, ids: e.findDetails(proto.ErrorDetailSchema).map((d) => d.id) };
      }
      return assert.fail('the call succeeded');
    };
    assert.deepEqual(
      await failure(actions.setExecution({ condition: { conditionType: { case: 'request', value: { condition: { case: 'all', value: true } } } }, targets: [] })),
      { code: Code.InvalidArgument, message: 'only event conditions are supported', ids: [] },
    );
    assert.deepEqual(await failure(actions.getTarget({ id: '404' })), { code: Code.NotFound, message: 'Target not found (ACTION-t4rg0)', ids: ['ACTION-t4rg0'] });
    const bad = await failure(actions.createTarget({ name: 'x', endpoint: 'ftp://example.com', targetType: { case: 'restAsync', value: {} } }));
    assert.equal(bad.code, Code.InvalidArgument);
    const asManager = createClient(proto.ActionService, transports[0].make(manager));
    assert.equal((await failure(asManager.listTargets({}))).code, Code.PermissionDenied);
    assert.equal((await failure(asManager.listExecutionFunctions({}))).code, Code.Unimplemented);
  });
  it('checks the request before the permission, as the contract orders them, on Connect and REST alike', async () => {
    const codeOf = async (call: Promise<unknown>) => call.then(() => Code[0], (error) => Code[ConnectError.from(error).code]);
    const asManager = createClient(proto.ActionService, transports[0].make(manager));
    const asAdmin = createClient(proto.ActionService, transports[0].make(admin));
    const malformed = [
      ['an endpoint that is no http(s) URL', () => asManager.createTarget({ name: 'x', endpoint: 'ftp://example.com', targetType: { case: 'restAsync', value: {} } })],
      ['no target type', () => asManager.createTarget({ name: 'x', endpoint: 'https://example.com' })],
      ['a request condition', () => asManager.setExecution({ condition: { conditionType: { case: 'request', value: { condition: { case: 'all', value: true } } } }, targets: [] })],
      ['a key rotation with a grace period', () => asManager.updateTarget({ id: '1', expirationSigningKey: { seconds: 60n, nanos: 0 } })],
    ] as const;
    for (const [what, call] of malformed) assert.equal(await codeOf(call()), Code[Code.InvalidArgument], what);
    // Well-formed, the same requests are the manager's to be refused.
    assert.equal(await codeOf(asManager.createTarget({ name: 'x', endpoint: 'https://example.com', targetType: { case: 'restAsync', value: {} } })), Code[Code.PermissionDenied]);

    const rest = await server.request('POST', '/v2beta/actions/targets', { token: manager, body: { name: 'x', endpoint: 'https://example.com' } });
    assert.equal(rest.status, 400, rest.text);
    assert.match(rest.body.message, /targetType/);

    const { id, signingKey } = await asAdmin.createTarget({ name: `rotated ${run}`, endpoint: 'https://example.com', targetType: { case: 'restAsync', value: {} } });
    const rotated = await asAdmin.updateTarget({ id, expirationSigningKey: { seconds: 0n, nanos: 0 } });
    assert.ok(rotated.signingKey && rotated.signingKey !== signingKey, 'a rotation of "0s" answers a new key');
  });
  it('bounds every list\'s page and offset with 400 code 3 naming the field, on REST and Connect', async () => {
    const actions = createClient(proto.ActionService, transports[0].make(admin));
    const pages: Array<[{ limit?: number; offset?: bigint }, RegExp]> = [
      [{ limit: 1001 }, /^invalid pagination\.limit: must not be greater than 1000$/],
      [{ offset: 1_000_000_001n }, /^invalid pagination\.offset: must not be greater than 1000000000$/],
    ];
    for (const [pagination, message] of pages) {
      for (const call of [() => actions.listTargets({ pagination }), () => actions.listExecutions({ pagination })]) {
        const error = await call().then(() => assert.fail('answered'), (e: unknown) => ConnectError.from(e));
        assert.equal(error.code, Code.InvalidArgument);
        assert.match(error.rawMessage, message);
      }
      for (const path of ['/v2beta/actions/targets/search', '/v2beta/actions/executions/search']) {
        const body = { pagination: { ...pagination, offset: String(pagination.offset ?? 0n) } };
        const rest = await server.request('POST', path, { token: admin, body });
        assert.equal(rest.status, 400, rest.text);
        assert.equal(rest.body.code, 3);
        assert.match(rest.body.message, message);
      }
    }
    const largest = await actions.listTargets({ pagination: { limit: 1000, offset: 1_000_000_000n } });
    assert.equal(largest.pagination?.appliedLimit, 1000n);
    assert.equal(largest.targets.length, 0);
  });
  it('serves every method on REST at ZITADEL\'s paths, taking proto names as well as JSON names', async () => {
    const rest = (method: string, path: string, body?: object, token = admin) => server.request(method, path, { token, body });
    const created = await rest('POST', '/v2beta/actions/targets', {
      name: `proto names ${run}`, endpoint: 'https://proto.example.com/hook', rest_call: { interrupt_on_error: true }, timeout: '3s',
    });
    assert.equal(created.status, 200, created.text);
    const id: string = created.body.id;
    const got = await rest('GET', `/v2beta/actions/targets/${id}`);
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(
      { endpoint: got.body.target.endpoint, restCall: got.body.target.restCall, timeout: got.body.target.timeout, key: got.body.target.signingKey },
      { endpoint: 'https://proto.example.com/hook', restCall: { interruptOnError: true }, timeout: '3s', key: undefined },
    );
    for (const [body, message] of [
      [{ endpoint: 'https://proto.example.com/x', rest_async: {} }, 'invalid name: is required'],
      [{ name: `no endpoint ${run}`, rest_async: {} }, 'invalid endpoint: is required'],
    ] as const) {
      const missing = await rest('POST', '/v2beta/actions/targets', body);
      assert.deepEqual([missing.status, missing.body.message], [400, message]);
    }
    const plain = await rest('POST', '/v2beta/actions/targets', { name: `default timeout ${run}`, endpoint: 'https://proto.example.com/plain', rest_webhook: {} });
    assert.equal((await rest('GET', `/v2beta/actions/targets/${plain.body.id}`)).body.target.timeout, '10s', 'the timeout is 10 s unless given');
    const updated = await rest('POST', `/v2beta/actions/targets/${id}`, { endpoint: 'https://proto.example.com/v2', expiration_signing_key: '0s' });
    assert.equal(updated.status, 200, updated.text);
    assert.ok(updated.body.signingKey && updated.body.signingKey !== created.body.signingKey, 'expiration_signing_key rotates the key');
    assert.equal((await rest('GET', `/v2beta/actions/targets/${id}`)).body.target.endpoint, 'https://proto.example.com/v2');

    const set = await rest('PUT', '/v2beta/actions/executions', { condition: { event: { group: `proto.${run}` } }, targets: [id] });
    assert.equal(set.status, 200, set.text);
    const byTarget = await rest('POST', '/v2beta/actions/executions/search', { filters: [{ target_filter: { target_id: id } }] });
    assert.equal(byTarget.status, 200, byTarget.text);
    assert.deepEqual(byTarget.body.executions.map((e: { condition: object }) => e.condition), [{ event: { group: `proto.${run}` } }]);
    const byIds = await rest('POST', '/v2beta/actions/targets/search', { filters: [{ in_target_ids_filter: { target_ids: [id] } }] });
    assert.deepEqual(byIds.body.targets.map((t: { id: string }) => t.id), [id]);

    assert.equal((await rest('GET', `/v2beta/actions/targets/${id}`, undefined, manager)).status, 403);
    assert.equal((await rest('DELETE', `/v2beta/actions/targets/${id}`, undefined, manager)).status, 403);
    const deleted = await rest('DELETE', `/v2beta/actions/targets/${id}`);
    assert.equal(deleted.status, 200, deleted.text);
    assert.ok(deleted.body.deletionDate);
    const gone = await rest('GET', `/v2beta/actions/targets/${id}`);
    assert.equal(gone.status, 404, gone.text);
    assert.equal(gone.body.details[0].id, 'ACTION-t4rg0');
    const again = await rest('POST', '/v2beta/actions/executions/search', { filters: [{ target_filter: { target_id: id } }] });
    assert.deepEqual(again.body.executions ?? [], [], 'its executions no longer call it');
  });
  it('sorts ListTargets by the column asked for, descending unless asc, as ZITADEL does', async () => {
    const actions = createClient(proto.ActionService, transports[0].make(admin));
    const names = [`sort b ${run}`, `sort c ${run}`, `sort a ${run}`];
    const types = ['restAsync', 'restWebhook', 'restCall'] as const;
    const ids: string[] = [];
    for (const [i, name] of names.entries()) {
      ids.push((await actions.createTarget({ name, endpoint: 'https://example.com', targetType: { case: types[i], value: {} } })).id);
      // Creation dates a millisecond apart at least, so that their order is the order of creation.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const list = async (request: object) => {
      const { targets } = await actions.listTargets({ filters: [{ filter: { case: 'inTargetIdsFilter', value: { targetIds: ids } } }], ...request });
      return targets.map((t) => t.name);
    };
    assert.deepEqual(await list({}), [...names].reverse(), 'by creation date, newest first');
    assert.deepEqual(await list({ pagination: { asc: true } }), names);
    const byId = [...ids].sort().map((id) => names[ids.indexOf(id)]);
    assert.deepEqual(await list({ sortingColumn: 0, pagination: { asc: true } }), byId, 'TARGET_FIELD_NAME_UNSPECIFIED given: by id');
    // ZITADEL's order of types: webhook, call, async.
    assert.deepEqual(await list({ sortingColumn: 5, pagination: { asc: true } }), [names[1], names[2], names[0]]);
    assert.deepEqual(await list({ sortingColumn: 4, pagination: { asc: true } }), [...names].sort());
    assert.deepEqual(await list({ sortingColumn: 4, pagination: { asc: true, offset: 1n, limit: 1 } }), [[...names].sort()[1]]);
    const rest = await server.request('POST', '/v2beta/actions/targets/search', {
      token: admin,
      body: { sortingColumn: 'TARGET_FIELD_NAME_NAME', filters: [{ inTargetIdsFilter: { targetIds: ids } }] },
    });
    assert.equal(rest.status, 200, rest.text);
    assert.deepEqual(rest.body.targets.map((t: { name: string }) => t.name), [...names].sort().reverse());
    // An enum name the field does not have is refused, at any depth; an unknown field is ignored.
    const refused = [
      [{ sortingColumn: 'TARGET_FIELD_NAME_NAMES' }, /invalid sortingColumn: must be one of TARGET_FIELD_NAME_UNSPECIFIED, /],
      [{ filters: [{ executionTypeFilter: { executionType: 'EXECUTION_TYPE_EVENTS' } }] }, /invalid filters\.executionTypeFilter\.executionType: must be one of /],
    ] as const;
    for (const [index, [body, message]] of refused.entries()) {
      const answer = await server.request('POST', index === 0 ? '/v2beta/actions/targets/search' : '/v2beta/actions/executions/search', { token: admin, body });
      assert.equal(answer.status, 400, answer.text);
      assert.equal(answer.body.code, 3);
      assert.match(answer.body.message, message);
    }
    const ignored = await server.request('POST', '/v2beta/actions/targets/search', {
      token: admin,
      body: { sorting_column: 'TARGET_FIELD_NAME_NAME', filters: [{ in_target_ids_filter: { target_ids: ids } }], unknownField: 'X' },
    });
    assert.equal(ignored.status, 200, ignored.text);
    assert.deepEqual(ignored.body.targets.map((t: { name: string }) => t.name), [...names].sort().reverse(), 'sorting_column, its proto name, sorts too');

    await actions.setExecution({ condition: { conditionType: { case: 'event', value: { condition: { case: 'group', value: `sort.${run}` } } } }, targets: [ids[0]] });
    const executions = async (executionType: number) =>
      (await actions.listExecutions({ filters: [{ filter: { case: 'executionTypeFilter', value: { executionType } } }] })).executions.length;
    assert.ok((await executions(3)) >= 1, 'EXECUTION_TYPE_EVENT finds the event executions');
    assert.equal(await executions(4), 0, 'EXECUTION_TYPE_FUNCTION finds none');
  });
});
