import { randomUUID } from 'node:crypto';
import { EventStore, NewEvent } from '../src/event-store/event-store.port';
import { UserEventType, userStreamId } from '../src/users/user.events';

/** Users whose streams are written side by side: their events interleave in the log as real traffic's do. */
const WAVE_USERS = 4000;
const ORGANIZATIONS = 20;

/** A small deterministic generator, so that two runs seed the same log. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST_NAMES = ['Minnie', 'Mickey', 'Donald', 'Daisy', 'Goofy', 'Pluto', 'Scrooge', 'Clarabelle'];
const LAST_NAMES = ['Mouse', 'Duck', 'Goof', 'McDuck', 'Cow', 'Dog', 'Horsecollar', 'Pete'];

/**
 * The life of one user as the service writes it: added, mostly verified, often with OTP Email,
 * sometimes removed again, an email change now and then, a few users deleted.
 */
function lifeOf(n: number, prefix: string, next: () => number, at: Date): Array<Omit<NewEvent, 'eventId'>> {
  const orgId = `org-${n % ORGANIZATIONS}`;
  const userName = `${prefix}user${n}@bench.example.com`;
  const metadata = { resourceOwner: orgId, creator: `admin-${n % 7}`, correlationId: `seed-${n}` };
  const event = (type: string, data: Record<string, unknown> | null) => ({ type, data, metadata, createdAt: at });
  const life = [
    event(UserEventType.HumanAdded, {
      userName,
      firstName: FIRST_NAMES[n % FIRST_NAMES.length],
      lastName: LAST_NAMES[(n >> 3) % LAST_NAMES.length],
      email: userName,
    }),
  ];
  let email = userName;
  if (next() < 0.9) life.push(event(UserEventType.EmailVerified, { email }));
  if (life.length === 2 && next() < 0.75) {
    life.push(event(UserEventType.OTPEmailAdded, null));
    if (next() < 0.3) life.push(event(UserEventType.OTPEmailRemoved, null));
  }
  if (next() < 0.25) {
    email = `changed.${userName}`;
    life.push(event(UserEventType.EmailChanged, { email }));
    if (next() < 0.6) life.push(event(UserEventType.EmailVerified, { email }));
  }
  if (next() < 0.05) life.push(event(UserEventType.Removed, { userName }));
  return life;
}

export interface SeedResult {
  users: number;
  events: number;
}

/**
 * Appends about `events` user events through the store's port (for SQLite: group commits of
 * thousands of appends in one transaction). Users are written in waves whose streams grow one
 * event per round, so a user's events are spread over the log. Memory stays flat: one wave at a time.
 */
export async function seedUserEvents(
  store: EventStore,
  events: number,
  options: {
    /** Put before user ids and usernames, so that seeds of several runs in one store never collide. */
    prefix?: string;
    progress?: (written: number) => void;
  } = {},
): Promise<SeedResult> {
  const next = random(42);
  const at = new Date(Date.UTC(2024, 0, 1));
  let written = 0;
  let users = 0;
  while (written < events) {
    const wave: Array<{ streamId: string; life: Array<Omit<NewEvent, 'eventId'>> }> = [];
    for (let i = 0; i < WAVE_USERS && written < events; i++) {
      const n = users++;
      const life = lifeOf(n, options.prefix ?? '', next, at).slice(0, events - written);
      written += life.length;
      wave.push({ streamId: userStreamId(`${options.prefix ?? ''}${n}`), life });
    }
    const rounds = Math.max(...wave.map((w) => w.life.length));
    for (let round = 0; round < rounds; round++) {
      at.setTime(at.getTime() + 1000);
      await Promise.all(
        wave
          .filter((w) => w.life.length > round)
          .map((w) =>
            store.append(w.streamId, round === 0 ? 'no_stream' : round - 1, [
              { ...w.life[round], createdAt: new Date(at), eventId: randomUUID() },
            ]),
          ),
      );
    }
    options.progress?.(written);
  }
  return { users, events: written };
}
