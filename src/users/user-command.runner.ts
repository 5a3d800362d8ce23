import { Inject, Injectable, Optional } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { Caller } from '../auth/caller';
import {
  EVENT_STORE,
  EventStore,
  NewEvent,
  RecordedEvent,
  WrongExpectedRevisionError,
} from '../event-store/event-store.port';
import { ProjectionRunner } from '../projections/projection.runner';
import { CLOCK, Clock } from '../shared/clock';
import { ID_GENERATOR, IdGenerator } from '../shared/id-generator';
import { Details, detailsOf } from './read-models/details';
import { UserEvent, toUserEvent, userStreamId } from './user.events';
import { CachedUser, UserStateCache } from './user-state.cache';
import { UserState, evolveUser, initialUserState } from './user.state';

/** The target of an authorisation check: a user that does not exist has no organization. */
export const targetOf = (userId: string, state: UserState) => ({
  userId,
  orgId: state.status === 'absent' ? undefined : state.orgId,
});

/** Events read and folded at a time when a user is loaded. */
export const STREAM_PAGE = 256;

/** Attempts for one command before it answers 409 ABORTED. */
export const MAX_ATTEMPTS = 10;

/** Users whose state is kept between commands (under 1 KB each, so at most about 10 MB). */
export const USER_CACHE_CAPACITY = 10_000;

/**
 * Only users with at least this many events are cached: reading a short stream again costs about
 * what reading it from a cached revision does, and caching every user a busy service touches
 * once churns the cache (and the garbage collector's old generation) for nothing.
 */
export const USER_CACHE_MIN_EVENTS = 64;

export const USER_CACHE_OPTIONS = Symbol('UserCacheOptions');
export interface UserCacheOptions {
  capacity: number;
  minEvents: number;
}

/** Who acts and on behalf of which request: it goes into every event's metadata. */
export interface CommandContext {
  caller: Caller;
  correlationId: string;
}

/** How a command ended: the number of events it appended (0: nothing to do), or what it threw. */
export type CommandOutcome = { appended: number } | { error: unknown };

/** Watches commands, for /metrics; the runner works the same without one. */
export interface CommandObserver {
  /** An append was refused because the stream changed after it was read. */
  conflict(retrying: boolean): void;
  finished(outcome: CommandOutcome): void;
}

export const COMMAND_OBSERVER = Symbol('CommandObserver');

export interface LoadedUser {
  state: UserState;
  revision: number | 'no_stream';
  /** Of the stream's last event; null when there is none. */
  details: Details | null;
}

/**
 * The one way a user command runs: load the stream, decide, append with the revision read, and on
 * a conflict load and decide again, a bounded number of times. `decide` includes authorisation,
 * so a retry sees the user as it is now. A 200 waits for the read models, so the next read shows it.
 *
 * Loading starts from the user's state cached at some revision, when there is one, and reads only
 * the events from there on: a user with 10,000 events costs about what one with 10 does. Other
 * instances may have appended since; they are read like any other event, and the append's
 * expected revision catches whatever lands in between.
 */
@Injectable()
export class UserCommandRunner {
  private readonly cache: UserStateCache;
  private readonly cacheFromRevision: number;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    private readonly projections: ProjectionRunner,
    @Optional() @Inject(COMMAND_OBSERVER) private readonly observer: CommandObserver | null = null,
    @Optional() @Inject(USER_CACHE_OPTIONS)
    { capacity, minEvents }: UserCacheOptions = { capacity: USER_CACHE_CAPACITY, minEvents: USER_CACHE_MIN_EVENTS },
  ) {
    this.cache = new UserStateCache(capacity);
    this.cacheFromRevision = minEvents - 1;
  }

  /**
   * The user as of the last event in the store. A cached state is a starting point: only the
   * events from its revision on are read (that event again, to prove the store still has it).
   * The stream is read and folded a page at a time, so a long one is never all in memory.
   */
  async load(userId: string): Promise<LoadedUser> {
    const cached = this.cache.get(userId);
    let state = cached?.state ?? initialUserState;
    let last: RecordedEvent | undefined;
    let revision: number | 'no_stream' = 'no_stream';
    // The revision the next page starts at; a cached state's own event is read again first.
    let next = cached ? cached.revision : 0;
    for (;;) {
      const read = await this.store.readStream(userStreamId(userId), { fromRevision: next, maxCount: STREAM_PAGE });
      revision = read.revision;
      // An adapter may ignore fromRevision and maxCount: skip what is folded already.
      const events = read.events.filter((recorded) => recorded.revision >= next);
      if (cached && next === cached.revision) {
        if (events[0]?.revision !== cached.revision || events[0].eventId !== cached.eventId) {
          // Not the stream the cache knew (the store was replaced): start over from the first event.
          this.cache.forget(userId);
          return this.load(userId);
        }
        events.shift();
        next = cached.revision + 1;
      }
      for (const recorded of events) {
        const event = toUserEvent(recorded);
        if (event) state = evolveUser(state, event);
        last = recorded;
        next = recorded.revision + 1;
      }
      if (read.events.length < STREAM_PAGE || events.length === 0) break;
    }
    if (!last) {
      return cached ? { state, revision: cached.revision, details: cached.details } : { state, revision, details: null };
    }
    const details = detailsOf(last);
    this.remember(userId, { state, revision: last.revision, eventId: last.eventId, details });
    return { state, revision: last.revision, details };
  }

  async run(userId: string, context: CommandContext, decide: (state: UserState) => UserEvent[]): Promise<Details> {
    try {
      const { details, appended } = await this.decideAndAppend(userId, context, decide);
      this.observer?.finished({ appended });
      return details;
    } catch (error) {
      this.observer?.finished({ error });
      throw error;
    }
  }

  private async decideAndAppend(
    userId: string,
    context: CommandContext,
    decide: (state: UserState) => UserEvent[],
  ): Promise<{ details: Details; appended: number }> {
    for (let attempt = 1; ; attempt++) {
      const loaded = await this.load(userId);
      const { state, revision } = loaded;
      const events = decide(state);
      if (events.length === 0) return { details: loaded.details!, appended: 0 };
      try {
        const result = await this.store.append(userStreamId(userId), revision, this.toNew(events, context));
        const last = result.events[result.events.length - 1];
        const details = detailsOf(last);
        this.remember(userId, { state: events.reduce(evolveUser, state), revision: result.revision, eventId: last.eventId, details });
        await this.projections.waitFor(result.position);
        return { details, appended: result.events.length };
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError)) throw error;
        this.observer?.conflict(attempt < MAX_ATTEMPTS);
        if (attempt >= MAX_ATTEMPTS) throw error;
        // Spread the retries of racing writers so they do not collide again in lockstep.
        await sleep(Math.floor(Math.random() * attempt * 2));
      }
    }
  }

  private remember(userId: string, entry: CachedUser): void {
    if (entry.revision >= this.cacheFromRevision) this.cache.remember(userId, entry);
  }

  toNew(events: readonly UserEvent[], { caller, correlationId }: CommandContext): NewEvent[] {
    const createdAt = this.clock.now();
    return events.map((event) => ({
      eventId: this.ids.eventId(),
      type: event.type,
      data: event.data as NewEvent['data'],
      metadata: { resourceOwner: event.resourceOwner, creator: caller.userId, correlationId },
      createdAt,
    }));
  }
}
