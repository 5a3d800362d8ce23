import assert from 'node:assert/strict';
import { after, beforeEach, describe, it } from 'node:test';
import { Errors } from '../../src/errors/errors';
import { SqliteEventStore } from '../../src/event-store/sqlite/sqlite-event-store.adapter';
import { MetricsService } from '../../src/ops/metrics/metrics.service';
import { ProjectionRunner } from '../../src/projections/projection.runner';
import { SqliteReadModelStore } from '../../src/projections/sqlite/sqlite-read-model-store.adapter';
import { systemClock } from '../../src/shared/clock';
import { SnowflakeIdGenerator } from '../../src/shared/id-generator';
import { MAX_ATTEMPTS, UserCommandRunner } from '../../src/users/user-command.runner';
import { UserEvent, UserEventType, userStreamId } from '../../src/users/user.events';

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

describe('metrics of user commands (UserCommandRunner with the metrics observer, on a real SQLite store)', () => {
  let store: SqliteEventStore;
  let readModels: SqliteReadModelStore;
  let metrics: MetricsService;
  let runner: UserCommandRunner;
  const ids = new SnowflakeIdGenerator(systemClock);

  beforeEach(() => {
    store = new SqliteEventStore(':memory:');
    readModels = new SqliteReadModelStore(':memory:');
    const projections = new ProjectionRunner(store, readModels, []);
    metrics = new MetricsService(store, projections);
    runner = new UserCommandRunner(store, systemClock, ids, projections, metrics);
  });
  after(async () => {
    await store?.close();
    await readModels?.close();
  });

  /** A competing writer appends to the stream between the runner's read and its append. */
  const appendBehindItsBack = (userId: string) =>
    store.append(userStreamId(userId), 'any', runner.toNew([otpAdded], context));

  it('counts a command that appends, with its conflict and retry', async () => {
    let calls = 0;
    await runner.run('u1', context, () => {
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
    await assert.rejects(runner.run('u2', context, () => { throw Errors.userNotFound(); }));
    await runner.run('u2', context, () => [added]);
    await runner.run('u2', context, () => []);
    const text = await metrics.scrape();
    assert.equal(sample(text, 'mfa_commands_total{outcome="rejected",code="NOT_FOUND"}'), 1);
    assert.equal(sample(text, 'mfa_commands_total{outcome="unchanged",code=""}'), 1);
    assert.equal(sample(text, 'mfa_commands_total{outcome="ok",code=""}'), 1);
    assert.equal(sample(text, 'mfa_command_conflicts_total'), 0);
  });

  it('counts a command that conflicts on every attempt as aborted', async () => {
    await runner.run('u3', context, () => [added]);
    await assert.rejects(
      runner.run('u3', context, () => {
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
