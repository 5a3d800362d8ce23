import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ServiceError } from '../errors/service-error';
import { EventStore, ReadStreamOptions } from '../event-store/event-store.port';
import { SqliteStore } from '../event-store/sqlite/sqlite-store.adapter';
import { ProjectionsService } from '../projections/projections.service';
import { systemClock } from '../shared/clock';
import { SnowflakeIdGenerator } from '../shared/id-generator';
import { decideAddHumanUser } from '../users/add-human-user/add-human-user.decide';
import { decideAddOTPEmail } from '../users/add-otp-email/add-otp-email.decide';
import { decideRemoveOTPEmail } from '../users/remove-otp-email/remove-otp-email.decide';
import { UserEventType, userStreamId } from '../users/user.events';
import { UserState, userDecider } from '../users/user.state';
import { CommandContext, STREAM_PAGE, StreamCommandHandler } from './stream-command.handler';

/**
 * The handler keeps long streams' states between commands. These rules hold all the same: a
 * command decides on the stream as the store has it now, whatever other instances wrote since,
 * and answers the revision the store gave its event.
 */

const context: CommandContext = { caller: { userId: 'admin-1', orgId: 'org-1', roles: {} }, correlationId: 'c-1' };

/** An adapter that ignores `fromRevision` and `maxCount` and reads whole streams, as the port allows. */
class WholeStreams implements EventStore {
  readonly backend = 'whole-streams';
  constructor(public current: EventStore) {}
  append: EventStore['append'] = (...args) => this.current.append(...args);
  readStream = (streamId: string, _options?: ReadStreamOptions) => this.current.readStream(streamId);
  readAll: EventStore['readAll'] = (options) => this.current.readAll(options);
  headPosition = () => this.current.headPosition();
  onAppended: EventStore['onAppended'] = (listener) => this.current.onAppended(listener);
  close = () => Promise.resolve();
}

/** A store that can be swapped under a running service, and that records its stream reads. */
class Switchable extends WholeStreams {
  reads: Array<{ from?: number; count: number }> = [];
  override readStream = async (streamId: string, options?: ReadStreamOptions) => {
    const read = await this.current.readStream(streamId, options);
    this.reads.push({ from: options?.fromRevision, count: read.events.length });
    return read;
  };
}

describe('StreamCommandHandler', () => {
  let dir: string;
  let store: SqliteStore;
  let users = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mfa-commands-'));
    store = new SqliteStore(join(dir, 'events.sqlite'), { inline: [] });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One service instance: a handler of its own (so a cache of its own) over the shared store. */
  const instance = (events: EventStore = store, minEvents = 0) => {
    const stores = { events, readModels: store, inline: true, close: async () => undefined };
    // Every stream kept, however short, unless told otherwise: these tests are about the cache.
    return new StreamCommandHandler(events, systemClock, new SnowflakeIdGenerator(systemClock), new ProjectionsService(stores, []), null, {
      capacity: 10_000,
      minEvents,
    });
  };
  const onUser = async (handler: StreamCommandHandler, userId: string, decide: (state: UserState) => ReturnType<typeof decideAddOTPEmail>) => {
    const { last } = await handler.handle(userStreamId(userId), userDecider, decide, context);
    return last!.revision + 1;
  };
  const addUser = async (handler: StreamCommandHandler) => {
    const userId = `u${++users}`;
    const command = { userId, orgId: 'org-1', userName: userId, givenName: 'A', familyName: 'B', email: `${userId}@example.com`, isVerified: true };
    await onUser(handler, userId, (state) => decideAddHumanUser(command, state));
    return userId;
  };
  const addOtp = (handler: StreamCommandHandler, userId: string) => onUser(handler, userId, (s) => decideAddOTPEmail({ userId }, s));
  const removeOtp = (handler: StreamCommandHandler, userId: string) => onUser(handler, userId, (s) => decideRemoveOTPEmail({ userId }, s));
  const fails = (promise: Promise<unknown>, id: string) =>
    assert.rejects(promise, (error: unknown) => error instanceof ServiceError && error.id === id);

  for (const [name, events] of [
    ['an adapter that reads from the cached revision', () => store],
    ['an adapter that reads whole streams', () => new WholeStreams(store)],
  ] as const) {
    it(`decides on what another instance wrote after it cached the stream (${name})`, async () => {
      const a = instance(events());
      const b = instance(events());
      const userId = await addUser(a);
      assert.equal(await addOtp(a, userId), 3); // a keeps the user with OTP Email
      assert.equal(await removeOtp(b, userId), 4); // b removes it
      await fails(removeOtp(a, userId), 'COMMAND-b312D'); // a sees it gone: nothing appended
      assert.equal(await addOtp(a, userId), 5);
      await fails(addOtp(b, userId), 'COMMAND-MKL2s'); // and b sees a's
      assert.deepEqual(
        (await store.readStream(userStreamId(userId))).events.map((e) => e.type),
        [UserEventType.HumanAdded, UserEventType.EmailVerified, UserEventType.OTPEmailAdded, UserEventType.OTPEmailRemoved, UserEventType.OTPEmailAdded],
      );
    });
  }

  it('lets exactly one of concurrent removes win, across instances with warm caches', async () => {
    const handlers = [instance(), instance(), instance()];
    const userId = await addUser(handlers[0]);
    await addOtp(handlers[0], userId);
    for (const handler of handlers) await handler.load(userStreamId(userId), userDecider);
    const outcomes = await Promise.allSettled(handlers.flatMap((h) => [removeOtp(h, userId), removeOtp(h, userId)]));
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    for (const o of outcomes) if (o.status === 'rejected') assert.equal((o.reason as ServiceError).id, 'COMMAND-b312D');
    assert.equal((await store.readStream(userStreamId(userId))).events.length, 4);
  });

  it('keeps only streams long enough to be worth it, and reads those from their kept revision', async () => {
    const recording = new Switchable(store);
    const handler = instance(recording, 4);
    const userId = await addUser(handler); // 2 events
    await addOtp(handler, userId); // 3 events: not kept
    recording.reads = [];
    await handler.load(userStreamId(userId), userDecider);
    assert.deepEqual(recording.reads.map((r) => r.from), [0], 'a stream under the minimum is read from the start');
    await removeOtp(handler, userId); // 4 events: kept from here on
    recording.reads = [];
    await handler.load(userStreamId(userId), userDecider);
    assert.deepEqual(recording.reads.map((r) => r.from), [3], 'a kept stream is read from its kept revision');
  });

  it('folds a stream longer than one read, page by page', async () => {
    const recording = new Switchable(store);
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
    const loaded = await instance(recording).load(userStreamId(userId), userDecider);
    assert.equal(loaded.last?.revision, 2499);
    assert.equal(loaded.state.status === 'active' && loaded.state.otpEmail, true);
    const full = Math.floor(2500 / STREAM_PAGE);
    assert.deepEqual(recording.reads, [
      ...Array.from({ length: full }, (_, i) => ({ from: i * STREAM_PAGE, count: STREAM_PAGE })),
      { from: full * STREAM_PAGE, count: 2500 - full * STREAM_PAGE },
    ]);
  });

  it('reads the stream again from the start when the store no longer has the kept event', async () => {
    const switchable = new Switchable(store);
    const handler = instance(switchable);
    const userId = await addUser(handler);
    await addOtp(handler, userId); // kept: OTP Email set up, at revision 2
    // A store where revision 2 of that user is another event, one that leaves no factor.
    const restored = new SqliteStore(join(dir, 'restored.sqlite'), { inline: [] });
    try {
      const history = (await store.readStream(userStreamId(userId))).events.slice(0, 2);
      const changed = { ...history[1], eventId: `other-${userId}`, type: UserEventType.EmailChanged, data: { email: 'new@example.com' } };
      await restored.append(userStreamId(userId), 'no_stream', [...history, changed]);
      switchable.current = restored;
      await fails(removeOtp(handler, userId), 'COMMAND-b312D');
      assert.equal((await restored.readStream(userStreamId(userId))).revision, 2);
    } finally {
      await restored.close();
    }
  });
});
