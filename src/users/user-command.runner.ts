import { Inject, Injectable } from '@nestjs/common';
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
import { UserState, evolveUser, initialUserState } from './user.state';

/** The target of an authorisation check: a user that does not exist has no organization. */
export const targetOf = (userId: string, state: UserState) => ({
  userId,
  orgId: state.status === 'absent' ? undefined : state.orgId,
});

/** Attempts for one command before it answers 409 ABORTED. */
export const MAX_ATTEMPTS = 10;

/** Who acts and on behalf of which request: it goes into every event's metadata. */
export interface CommandContext {
  caller: Caller;
  correlationId: string;
}

export interface LoadedUser {
  state: UserState;
  revision: number | 'no_stream';
  last: RecordedEvent | null;
}

/**
 * The one way a user command runs: load the stream, decide, append with the revision read, and on
 * a conflict load and decide again, a bounded number of times. `decide` includes authorisation,
 * so a retry sees the user as it is now. A 200 waits for the read models, so the next read shows it.
 */
@Injectable()
export class UserCommandRunner {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
    private readonly projections: ProjectionRunner,
  ) {}

  async load(userId: string): Promise<LoadedUser> {
    const { events, revision } = await this.store.readStream(userStreamId(userId));
    let state = initialUserState;
    for (const recorded of events) {
      const event = toUserEvent(recorded);
      if (event) state = evolveUser(state, event);
    }
    return { state, revision, last: events.length ? events[events.length - 1] : null };
  }

  async run(userId: string, context: CommandContext, decide: (state: UserState) => UserEvent[]): Promise<Details> {
    for (let attempt = 1; ; attempt++) {
      const { state, revision, last } = await this.load(userId);
      const events = decide(state);
      if (events.length === 0) return detailsOf(last!);
      try {
        const result = await this.store.append(userStreamId(userId), revision, this.toNew(events, context));
        await this.projections.waitFor(result.position);
        return detailsOf(result.events[result.events.length - 1]);
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= MAX_ATTEMPTS) throw error;
        // Spread the retries of racing writers so they do not collide again in lockstep.
        await sleep(Math.floor(Math.random() * attempt * 2));
      }
    }
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
