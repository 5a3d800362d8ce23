import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ServiceError } from '../errors/service-error';
import { EventStore, ReadStreamOptions } from '../event-store/event-store.port';
import { SqliteEventStore } from '../event-store/sqlite/sqlite-event-store.adapter';
import { ProjectionRunner } from '../projections/projection.runner';
import { SqliteReadModelStore } from '../projections/sqlite/sqlite-read-model-store.adapter';
import { systemClock } from '../shared/clock';
import { SnowflakeIdGenerator } from '../shared/id-generator';
import { decideAddHumanUser } from './add-human-user/add-human-user.decide';
import { decideAddOTPEmail } from './add-otp-email/add-otp-email.decide';
import { decideRemoveOTPEmail } from './remove-otp-email/remove-otp-email.decide';
import { CommandContext, STREAM_PAGE, USER_CACHE_CAPACITY, UserCommandRunner } from './user-command.runner';
import { UserEventType, userStreamId } from './user.events';

/**
 * The runner keeps users' states between commands. These rules hold all the same: a command
 * decides on the user as the store has it now, whatever other instances wrote since, and answers
 * the sequence the store gave its event.
 */

const context: CommandContext = { caller: { userId: 'admin-1', orgId: 'org-1', roles: {} }, correlationId: 'c-1' };

/** An adapter that ignores `fromRevision` and reads whole streams, as the port allows. */
class WholeStreams implements EventStore {
  readonly backend = 'whole-streams';
  constructor(private readonly store: EventStore) {}
  append: EventStore['append'] = (...args) => this.store.append(...args);
  readStream = (streamId: string, _options?: ReadStreamOptions) => this.store.readStream(streamId);
  readAll: EventStore['readAll'] = (options) => this.store.readAll(options);
  headPosition = () => this.store.headPosition();
  onAppended: EventStore['onAppended'] = (listener) => this.store.onAppended(listener);
  close = () => Promise.resolve();
}

/** A store that can be swapped under a running service. */
class Switchable extends WholeStreams {
  constructor(public current: EventStore) {
    super(current);
  }
  override append: EventStore['append'] = (...args) => this.current.append(...args);
  override readStream = (streamId: string, options?: ReadStreamOptions) => this.current.readStream(streamId, options);
}

describe('UserCommandRunner with cached users', () => {
  let dir: string;
  let store: SqliteEventStore;
  let readModels: SqliteReadModelStore;
  let users = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mfa-runner-'));
    store = new SqliteEventStore(join(dir, 'events.sqlite'));
    readModels = new SqliteReadModelStore(join(dir, 'read-models.sqlite'));
  });
  after(async () => {
    await store.close();
    await readModels.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One service instance: a runner of its own (so a cache of its own) over the shared store. */
  const instance = (events: EventStore = store) =>
    new UserCommandRunner(events, systemClock, new SnowflakeIdGenerator(systemClock), new ProjectionRunner(events, readModels, []), null, {
      capacity: USER_CACHE_CAPACITY,
      // Every user cached, however short its stream: these tests are about the cache.
      minEvents: 0,
    });

  const addUser = async (runner: UserCommandRunner) => {
    const userId = `u${++users}`;
    const command = { userId, orgId: 'org-1', userName: userId, givenName: 'A', familyName: 'B', email: `${userId}@example.com`, isVerified: true };
    await runner.run(userId, context, (state) => decideAddHumanUser(command, state));
    return userId;
  };
  const addOtp = (runner: UserCommandRunner, userId: string) => runner.run(userId, context, (s) => decideAddOTPEmail({ userId }, s));
  const removeOtp = (runner: UserCommandRunner, userId: string) =>
    runner.run(userId, context, (s) => decideRemoveOTPEmail({ userId }, s));
  const fails = (promise: Promise<unknown>, id: string) =>
    assert.rejects(promise, (error: unknown) => error instanceof ServiceError && error.id === id);

  for (const [name, events] of [
    ['an adapter that reads from the cached revision', () => store],
    ['an adapter that reads whole streams', () => new WholeStreams(store)],
  ] as const) {
    it(`decides on what another instance wrote after it cached the user (${name})`, async () => {
      const a = instance(events());
      const b = instance(events());
      const userId = await addUser(a);
      assert.equal((await addOtp(a, userId)).sequence, '3'); // a caches the user with OTP Email
      assert.equal((await removeOtp(b, userId)).sequence, '4'); // b removes it

      await fails(removeOtp(a, userId), 'COMMAND-b312D'); // a sees it gone: nothing appended
      assert.equal((await addOtp(a, userId)).sequence, '5');
      await fails(addOtp(b, userId), 'COMMAND-MKL2s'); // and b sees a's
      assert.deepEqual(
        (await store.readStream(userStreamId(userId))).events.map((e) => e.type),
        [
          UserEventType.HumanAdded,
          UserEventType.EmailVerified,
          UserEventType.OTPEmailAdded,
          UserEventType.OTPEmailRemoved,
          UserEventType.OTPEmailAdded,
        ],
      );
    });
  }

  it('lets exactly one of concurrent removes win, across instances with warm caches', async () => {
    const runners = [instance(), instance(), instance()];
    const userId = await addUser(runners[0]);
    await addOtp(runners[0], userId);
    for (const runner of runners) await runner.load(userId); // every cache holds OTP Email set up
    const outcomes = await Promise.allSettled(runners.flatMap((r) => [removeOtp(r, userId), removeOtp(r, userId)]));
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    for (const o of outcomes) {
      if (o.status === 'rejected') assert.equal((o.reason as ServiceError).id, 'COMMAND-b312D');
    }
    assert.equal((await store.readStream(userStreamId(userId))).events.length, 4);
  });

  it('caches only users whose streams are long enough to be worth it', async () => {
    const reads: Array<number | undefined> = [];
    const recording = new Switchable(store);
    recording.readStream = (streamId, options) => (reads.push(options?.fromRevision), store.readStream(streamId, options));
    const withMinimum = (minEvents: number) =>
      new UserCommandRunner(recording, systemClock, new SnowflakeIdGenerator(systemClock), new ProjectionRunner(recording, readModels, []), null, {
        capacity: USER_CACHE_CAPACITY,
        minEvents,
      });
    const short = withMinimum(4);
    const userId = await addUser(short); // 2 events
    await addOtp(short, userId); // 3 events: not cached
    reads.length = 0;
    await short.load(userId);
    assert.deepEqual(reads, [0], 'a stream under the minimum is read from the start');
    await removeOtp(short, userId); // 4 events: cached from here on
    reads.length = 0;
    await short.load(userId);
    assert.deepEqual(reads, [3], 'a stream at the minimum is read from its cached revision');
  });

  it('folds a stream longer than one read, page by page', async () => {
    const reads: Array<{ from?: number; count: number }> = [];
    const recording = new Switchable(store);
    recording.readStream = async (streamId, options) => {
      const read = await store.readStream(streamId, options);
      reads.push({ from: options?.fromRevision, count: read.events.length });
      return read;
    };
    const userId = await addUser(instance());
    // 2,498 more events: OTP Email added and removed in turn, ending added (revision 2,499).
    const toggles = Array.from({ length: 2498 }, (_, i) => ({
      eventId: `toggle-${userId}-${i}`,
      type: i % 2 === 0 ? UserEventType.OTPEmailAdded : UserEventType.OTPEmailRemoved,
      data: null,
      metadata: { resourceOwner: 'org-1', creator: 'admin-1', correlationId: 'c-1' },
      createdAt: new Date(),
    }));
    toggles.push({ ...toggles[0], eventId: `toggle-${userId}-last` });
    toggles.splice(0, 1);
    await store.append(userStreamId(userId), 1, toggles);
    const loaded = await instance(recording).load(userId);
    assert.equal(loaded.revision, 2499);
    assert.equal(loaded.state.status === 'active' && loaded.state.otpEmail, true);
    assert.equal(loaded.details?.sequence, '2500');
    // Full pages of STREAM_PAGE events, then the short one that ends the stream.
    const full = Math.floor(2500 / STREAM_PAGE);
    assert.deepEqual(reads, [
      ...Array.from({ length: full }, (_, i) => ({ from: i * STREAM_PAGE, count: STREAM_PAGE })),
      { from: full * STREAM_PAGE, count: 2500 - full * STREAM_PAGE },
    ]);
  });

  it('reads the stream again from the start when the store no longer has the cached event', async () => {
    const switchable = new Switchable(store);
    const runner = instance(switchable);
    const userId = await addUser(runner);
    await addOtp(runner, userId); // cached: OTP Email set up, at revision 2
    // A store where revision 2 of that user is another event, one that leaves no factor.
    const restored = new SqliteEventStore(join(dir, 'restored.sqlite'));
    try {
      const history = (await store.readStream(userStreamId(userId))).events.slice(0, 2);
      const changed = { ...history[1], eventId: `other-${userId}`, type: UserEventType.EmailChanged, data: { email: 'new@example.com' } };
      await restored.append(userStreamId(userId), 'no_stream', [...history, changed]);
      switchable.current = restored;
      await fails(removeOtp(runner, userId), 'COMMAND-b312D');
      assert.equal((await restored.readStream(userStreamId(userId))).revision, 2);
    } finally {
      await restored.close();
    }
  });
});
