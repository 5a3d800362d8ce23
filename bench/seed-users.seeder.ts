import { EventStore, NewEvent } from '../src/event-store/event-store.port';
import { SnowflakeIdGenerator } from '../src/shared/id-generator';
import { UserEventType, userStreamId } from '../src/users/user.events';

export interface SeedOptions {
  /** User ids are `${prefix}${n}` for n from 0 to count - 1. */
  prefix: string;
  count: number;
  /** Events in each user's stream; the last one leaves OTP Email set up. At least 3. */
  streamLength: number;
  orgId: string;
  /** Called now and then with the number of users written so far. */
  progress?: (done: number) => void;
}

/** Users appended at once: the SQLite adapter commits them together (group commit). */
const WAVE_USERS = 256;
/** Events per append when a stream is long, so one append never holds a huge transaction. */
const CHUNK_EVENTS = 2000;

export const seededUserId = (prefix: string, n: number): string => `${prefix}${n}`;

/**
 * A verified human user with OTP Email set up, whose stream has exactly `length` events: added,
 * (email changed when needed to make the count come out), verified, then OTP Email added and
 * removed in turn, ending with added. Seeding goes through the EventStore port, so it works for
 * every backend and the events are exactly what the service itself would read.
 */
export function userStream(userId: string, length: number, orgId: string, at: Date): NewEvent[] {
  if (length < 3) throw new Error(`a seeded stream needs at least 3 events, not ${length}`);
  const metadata = { resourceOwner: orgId, creator: 'bench-seeder', correlationId: `seed-${userId}` };
  const email = `${userId}@bench.example.com`;
  // Event ids made as the service makes them, at the seeded date: the indexes look as they would.
  const ids = new SnowflakeIdGenerator({ now: () => at });
  const event = (type: string, data: Record<string, unknown> | null): NewEvent => ({
    eventId: ids.eventId(),
    type,
    data,
    metadata,
    createdAt: at,
  });
  const events = [
    event(UserEventType.HumanAdded, { userName: userId, firstName: 'Bench', lastName: userId, email }),
  ];
  // added + verified + an odd run of OTP events; an email change fills in when the count is even.
  if ((length - 2) % 2 === 0) events.push(event(UserEventType.EmailChanged, { email }));
  events.push(event(UserEventType.EmailVerified, { email }));
  for (let i = 0; events.length < length; i++) {
    events.push(event(i % 2 === 0 ? UserEventType.OTPEmailAdded : UserEventType.OTPEmailRemoved, null));
  }
  return events;
}

/** Seeded events are history: dated this long before the run, as a store's earlier events are. */
const HISTORY_AGE_MS = 24 * 3600_000;

export async function seedUsers(store: EventStore, options: SeedOptions): Promise<void> {
  const at = new Date(Date.now() - HISTORY_AGE_MS);
  for (let start = 0; start < options.count; start += WAVE_USERS) {
    const wave: Promise<void>[] = [];
    for (let n = start; n < Math.min(options.count, start + WAVE_USERS); n++) {
      wave.push(appendStream(store, seededUserId(options.prefix, n), options, at));
    }
    await Promise.all(wave);
    options.progress?.(Math.min(options.count, start + WAVE_USERS));
  }
}

async function appendStream(store: EventStore, userId: string, options: SeedOptions, at: Date): Promise<void> {
  const events = userStream(userId, options.streamLength, options.orgId, at);
  const streamId = userStreamId(userId);
  for (let from = 0; from < events.length; from += CHUNK_EVENTS) {
    await store.append(streamId, from === 0 ? 'no_stream' : from - 1, events.slice(from, from + CHUNK_EVENTS));
  }
}
