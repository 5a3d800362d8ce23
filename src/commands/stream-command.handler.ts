import { Inject, Injectable, Optional } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Caller } from '../auth/caller';
import { EVENT_STORE, EventStore, NewEvent, RecordedEvent, WrongExpectedRevisionError } from '../event-store/event-store.port';
import { ProjectionsService } from '../projections/projections.service';
import { CLOCK, Clock } from '../shared/clock';
import { ID_GENERATOR, IdGenerator } from '../shared/id-generator';

/** How a stream's events make a command's state: the write model of a rule, as Emmett's deciders have it. */
export interface Decider<S> {
  initialState: S;
  evolve(state: S, event: RecordedEvent): S;
}

/** An event as a rule decides it: its type, payload and owning organization. */
export interface DecidedEvent {
  type: string;
  data: object | null;
  resourceOwner: string;
}

/** Who acts and on behalf of which request: it goes into every event's metadata. */
export interface CommandContext {
  caller: Caller;
  correlationId: string;
}

/** What a command did: the events it appended (none: nothing to do) and the stream's last event since. */
export interface Handled<S> {
  state: S;
  appended: RecordedEvent[];
  last: RecordedEvent | null;
}

/** How a command ended: the number of events it appended, or what it threw. */
export type CommandOutcome = { appended: number } | { error: unknown };

/** Watches commands, for /metrics; the handler works the same without one. */
export interface CommandObserver {
  /** An append was refused because the stream changed after it was read. */
  conflict(retrying: boolean): void;
  finished(outcome: CommandOutcome): void;
}

export const COMMAND_OBSERVER = Symbol('CommandObserver');

/** Events read and folded at a time when a stream is loaded. */
export const STREAM_PAGE = 256;
/** Attempts for one command before it answers 409 ABORTED. */
export const MAX_ATTEMPTS = 10;

export const STATE_CACHE = Symbol('StateCacheOptions');
export interface StateCacheOptions {
  /** Streams whose state is kept between commands (STATE_CACHE_SIZE); 0 keeps none. */
  capacity: number;
  /** Only streams of at least this many events are kept: a short one reads as fast as a kept one. */
  minEvents: number;
}
const DEFAULT_CACHE: StateCacheOptions = { capacity: 10_000, minEvents: 64 };

interface Cached {
  state: unknown;
  last: RecordedEvent;
}

/**
 * The one way a command runs, as Emmett's CommandHandler: load the stream and fold it, decide,
 * append with the revision read, and on a conflict load and decide again, a bounded number of
 * times. `decide` includes authorisation, so a retry sees the stream as it is now. Where the read
 * models follow the log (EventStoreDB), a 200 waits until they show the command's events.
 *
 * The states of long streams are kept between commands (least recently used first out): loading
 * one reads only the events from its cached revision on, that event included, to prove the store
 * still has it. Other instances may have appended since; those events are read like any other,
 * and the append's expected revision catches whatever lands in between.
 */
@Injectable()
export class StreamCommandHandler {
  private readonly cache = new Map<string, Cached>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    private readonly projections: ProjectionsService,
    @Optional() @Inject(COMMAND_OBSERVER) private readonly observer: CommandObserver | null = null,
    @Optional() @Inject(STATE_CACHE) private readonly cacheOptions: StateCacheOptions = DEFAULT_CACHE,
  ) {}

  /** The stream's state as of its last event, read and folded a page at a time. */
  async load<S>(streamId: string, decider: Decider<S>): Promise<{ state: S; last: RecordedEvent | null }> {
    const cached = this.cache.get(streamId);
    let state = (cached?.state as S) ?? decider.initialState;
    let last = cached?.last ?? null;
    let next = last ? last.revision : 0;
    for (;;) {
      const read = await this.store.readStream(streamId, { fromRevision: next, maxCount: STREAM_PAGE });
      // An adapter may return more than asked: skip what is folded already.
      const events = read.events.filter((event) => event.revision >= next);
      if (cached && next === cached.last.revision) {
        if (events[0]?.eventId !== cached.last.eventId) {
          // Not the stream that was cached (the store was replaced): start over from its first event.
          this.cache.delete(streamId);
          return this.load(streamId, decider);
        }
        events.shift();
        next += 1;
      }
      for (const event of events) state = decider.evolve(state, event);
      if (events.length) {
        last = events[events.length - 1];
        next = last.revision + 1;
      }
      if (read.events.length < STREAM_PAGE || events.length === 0) break;
    }
    this.remember(streamId, state, last);
    return { state, last };
  }

  async handle<S>(
    streamId: string,
    decider: Decider<S>,
    decide: (state: S) => DecidedEvent[] | Promise<DecidedEvent[]>,
    context: CommandContext,
    /** False for a step of a larger command (a username reservation), which the observer counts once. */
    observed = true,
  ): Promise<Handled<S>> {
    const observer = observed ? this.observer : null;
    try {
      const handled = await this.decideAndAppend(streamId, decider, decide, context, observer);
      observer?.finished({ appended: handled.appended.length });
      return handled;
    } catch (error) {
      observer?.finished({ error });
      throw error;
    }
  }

  /** The events as the store takes them, with their ids, time and metadata. */
  toNew(events: readonly DecidedEvent[], { caller, correlationId }: CommandContext): NewEvent[] {
    const createdAt = this.clock.now();
    return events.map(({ type, data, resourceOwner }) => ({
      eventId: this.ids.eventId(),
      type,
      data: data as NewEvent['data'],
      metadata: { resourceOwner, creator: caller.userId, correlationId },
      createdAt,
    }));
  }

  private async decideAndAppend<S>(
    streamId: string,
    decider: Decider<S>,
    decide: (state: S) => DecidedEvent[] | Promise<DecidedEvent[]>,
    context: CommandContext,
    observer: CommandObserver | null,
  ): Promise<Handled<S>> {
    for (let attempt = 1; ; attempt++) {
      const { state, last } = await this.load(streamId, decider);
      const decided = await decide(state);
      if (decided.length === 0) return { state, appended: [], last };
      try {
        const result = await this.store.append(streamId, last?.revision ?? 'no_stream', this.toNew(decided, context));
        const after = result.events.reduce(decider.evolve, state);
        const appendedLast = result.events[result.events.length - 1];
        this.remember(streamId, after, appendedLast);
        await this.projections.waitFor(result.position);
        return { state: after, appended: result.events, last: appendedLast };
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError)) throw error;
        observer?.conflict(attempt < MAX_ATTEMPTS);
        if (attempt >= MAX_ATTEMPTS) throw error;
        // Spread the retries of racing writers so they do not collide again in lockstep.
        await sleep(Math.floor(Math.random() * attempt * 2));
      }
    }
  }

  /** Keeps a long stream's state; concurrent commands may finish in any order, so only a newer one replaces it. */
  private remember(streamId: string, state: unknown, last: RecordedEvent | null): void {
    if (!last || last.revision + 1 < this.cacheOptions.minEvents || this.cacheOptions.capacity === 0) return;
    const known = this.cache.get(streamId);
    if (known && known.last.revision > last.revision) return;
    // A Map iterates in insertion order: inserting again on use keeps the least recently used first.
    this.cache.delete(streamId);
    this.cache.set(streamId, { state, last });
    if (this.cache.size > this.cacheOptions.capacity) this.cache.delete(this.cache.keys().next().value!);
  }
}
