import assert from 'node:assert/strict';
import { after, beforeEach, describe, it } from 'node:test';
import { DiscoveryService } from '@nestjs/core';
import { MAX_ATTEMPTS, StreamCommandHandler } from '../../src/commands/stream-command.handler';
import { Errors } from '../../src/errors/errors';
import { SqliteStore } from '../../src/event-store/sqlite/sqlite-store.adapter';
import { MetricsService } from '../../src/ops/metrics/metrics.service';
import { ProjectionsService } from '../../src/projections/projections.service';
import { systemClock } from '../../src/shared/clock';
import { SnowflakeIdGenerator } from '../../src/shared/id-generator';
import { SubscribersService } from '../../src/subscribers/subscribers.service';
import { UserEvent, UserEventType, userStreamId } from '../../src/users/user.events';
import { UserState, userDecider } from '../../src/users/user.state';

const context = { caller: { userId: 'admin-1', orgId: 'org-1', roles: {} }, correlationId: 'req-1' };
const otpAdded: UserEvent = { type: UserEventType.OTPEmailAdded, data: null, resourceOwner: 'org-1' };
const added: UserEvent = {
  type: UserEventType.HumanAdded,
  data: { userName: 'minnie', firstName: 'Minnie', lastName: 'Mouse', email: 'm@example.com' },
  resourceOwner: 'org-1',
};

/** The value of one sample in Prometheus text, 0 when absent. */
function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

describe('metrics of commands (the command handler with the metrics observer, on a real SQLite store)', () => {
  let store: SqliteStore;
  let metrics: MetricsService;
  let commands: StreamCommandHandler;
  const ids = new SnowflakeIdGenerator(systemClock);
  const run = (userId: string, _context: typeof context, decide: (state: UserState) => UserEvent[]) =>
    commands.handle(userStreamId(userId), userDecider, decide, context);

  beforeEach(() => {
    store = new SqliteStore(':memory:', { inline: [] });
    const stores = { events: store, readModels: store, inline: true, close: () => store.close() };
    const projections = new ProjectionsService(stores, []);
    metrics = new MetricsService(store, projections, new SubscribersService(stores, {} as DiscoveryService));
    commands = new StreamCommandHandler(store, systemClock, ids, projections, metrics);
  });
  after(async () => {
    await store?.close();
  });

  /** A competing writer appends to the stream between the runner's read and its append. */
  const appendBehindItsBack = (userId: string) =>
    store.append(userStreamId(userId), 'any', commands.toNew([otpAdded], context));

  it('counts a command that appends, with its conflict and retry', async () => {
    let calls = 0;
    await run('u1', context, () => {
      if (++calls === 1) void appendBehindItsBack('u1');
      return [added];
    });
    // The competing event made the stream exist, so the retry still appends (decide ignores state here).
    const text = await metrics.scrape();
    assert.equal(calls, 2);
    assert.equal(sample(text, 'mfa_command_conflicts_total'), 1);
    assert.equal(sample(text, 'mfa_command_retries_total'), 1);
    assert.equal(sample(text, 'mfa_commands_total{outcome="ok",code=""}'), 1);
    assert.equal(sample(text, 'mfa_event_store_appends_total'), 1);
    assert.equal(sample(text, 'mfa_events_appended_total'), 1);
    assert.equal(sample(text, 'mfa_event_store_head_position'), 2);
  });

  it('counts a command the rules reject by its code, and one with nothing to do as unchanged', async () => {
    await assert.rejects(run('u2', context, () => { throw Errors.userNotFound(); }));
    await run('u2', context, () => [added]);
    await run('u2', context, () => []);
    const text = await metrics.scrape();
    assert.equal(sample(text, 'mfa_commands_total{outcome="rejected",code="NOT_FOUND"}'), 1);
    assert.equal(sample(text, 'mfa_commands_total{outcome="unchanged",code=""}'), 1);
    assert.equal(sample(text, 'mfa_commands_total{outcome="ok",code=""}'), 1);
    assert.equal(sample(text, 'mfa_command_conflicts_total'), 0);
  });

  it('counts a command that conflicts on every attempt as aborted', async () => {
    await run('u3', context, () => [added]);
    await assert.rejects(
      run('u3', context, () => {
        void appendBehindItsBack('u3');
        return [otpAdded];
      }),
    );
    const text = await metrics.scrape();
    assert.equal(sample(text, 'mfa_command_conflicts_total'), MAX_ATTEMPTS);
    assert.equal(sample(text, 'mfa_command_retries_total'), MAX_ATTEMPTS - 1);
    assert.equal(sample(text, 'mfa_commands_total{outcome="aborted",code="ABORTED"}'), 1);
  });
});
