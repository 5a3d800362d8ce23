import Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { EventStore, NewEvent } from '../src/event-store/event-store.port';
import { UserEventType, userStreamId } from '../src/users/user.events';

/** Users whose streams are written side by side: their events interleave in the log as real traffic's do. */
const WAVE_USERS = 4000;
const ORGANIZATIONS = 20;
/** Rows per transaction when writing straight into SQLite. */
const SQLITE_ROWS_PER_TRANSACTION = 50_000;

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

type PlannedEvent = Omit<NewEvent, 'eventId' | 'createdAt'>;

/**
 * The life of one user as the service writes it: added, mostly verified, often with OTP Email,
 * sometimes removed again, an email change now and then, a few users deleted.
 */
function lifeOf(n: number, prefix: string, next: () => number): PlannedEvent[] {
  const orgId = `org-${n % ORGANIZATIONS}`;
  const userName = `${prefix}user${n}@bench.example.com`;
  const metadata = { resourceOwner: orgId, creator: `admin-${n % 7}`, correlationId: `seed-${prefix}${n}` };
  const event = (type: string, data: Record<string, unknown> | null): PlannedEvent => ({ type, data, metadata });
  const life = [
    event(UserEventType.HumanAdded, {
      userName,
      firstName: FIRST_NAMES[n % FIRST_NAMES.length],
      lastName: LAST_NAMES[(n >> 3) % LAST_NAMES.length],
      email: userName,
    }),
  ];
  if (next() < 0.9) life.push(event(UserEventType.EmailVerified, { email: userName }));
  if (life.length === 2 && next() < 0.75) {
    life.push(event(UserEventType.OTPEmailAdded, null));
    if (next() < 0.3) life.push(event(UserEventType.OTPEmailRemoved, null));
  }
  if (next() < 0.25) {
    const email = `changed.${userName}`;
    life.push(event(UserEventType.EmailChanged, { email }));
    if (next() < 0.6) life.push(event(UserEventType.EmailVerified, { email }));
  }
  if (next() < 0.05) life.push(event(UserEventType.Removed, { userName }));
  return life;
}

/** One event of the seed, where it goes. */
export interface SeedEvent {
  streamId: string;
  /** 0-based revision in its stream. */
  revision: number;
  event: NewEvent;
}

export interface SeedResult {
  users: number;
  events: number;
}

/**
 * The seed in log order, one round at a time: users are taken in waves, and each round holds the
 * next event of every user of the wave that has one, so a user's events are spread over the log
 * and no round holds two events of one stream. Memory stays flat: one wave at a time.
 */
function* rounds(events: number, prefix: string, counts: SeedResult): Generator<SeedEvent[]> {
  const next = random(42);
  const at = new Date(Date.UTC(2024, 0, 1));
  while (counts.events < events) {
    const wave: Array<{ streamId: string; life: PlannedEvent[] }> = [];
    for (let i = 0; i < WAVE_USERS && counts.events < events; i++) {
      const n = counts.users++;
      const life = lifeOf(n, prefix, next).slice(0, events - counts.events);
      counts.events += life.length;
      wave.push({ streamId: userStreamId(`${prefix}${n}`), life });
    }
    const longest = Math.max(...wave.map((w) => w.life.length));
    for (let revision = 0; revision < longest; revision++) {
      at.setTime(at.getTime() + 1000);
      const createdAt = new Date(at);
      yield wave
        .filter((w) => w.life.length > revision)
        .map((w) => ({ streamId: w.streamId, revision, event: { ...w.life[revision], eventId: randomUUID(), createdAt } }));
    }
  }
}

export interface SeedOptions {
  /** Put before user ids and usernames, so that seeds of several runs in one store never collide. */
  prefix?: string;
  progress?: (written: number) => void;
}

/** Appends about `events` user events through the store's port: works for every backend. */
export async function seedUserEvents(store: EventStore, events: number, options: SeedOptions = {}): Promise<SeedResult> {
  const counts: SeedResult = { users: 0, events: 0 };
  let written = 0;
  for (const round of rounds(events, options.prefix ?? '', counts)) {
    await Promise.all(round.map((e) => store.append(e.streamId, e.revision === 0 ? 'no_stream' : e.revision - 1, [e.event])));
    written += round.length;
    options.progress?.(written);
  }
  return counts;
}

/** The columns the embedded store's `events` table has; seeding straight into it needs exactly these. */
const SQLITE_COLUMNS = ['position', 'stream_id', 'revision', 'event_id', 'type', 'data', 'metadata', 'created_at'];

/**
 * The same events, written straight into the embedded store's file in transactions of tens of
 * thousands of rows: seconds instead of minutes for a million events. The file must have been
 * created by SqliteEventStore (its schema); the caller reads the result back through the adapter.
 */
export function seedUserEventsIntoSqlite(file: string, events: number, options: SeedOptions = {}): SeedResult {
  const db = new Database(file);
  try {
    const columns = db.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('events')`).all().map((c) => c.name);
    if (columns.join() !== SQLITE_COLUMNS.join()) {
      throw new Error(
        `the events table of ${file} has the columns ${columns.join(', ')}, not ${SQLITE_COLUMNS.join(', ')}: ` +
          'the SQLite adapter changed; seed through the port instead (--seed-through-port)',
      );
    }
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // The unique index on random event ids is written all over: keep it in memory while seeding.
    db.pragma('cache_size = -262144');
    const insert = db.prepare(
      'INSERT INTO events (stream_id, revision, event_id, type, data, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    const counts: SeedResult = { users: 0, events: 0 };
    let pending: SeedEvent[] = [];
    let written = 0;
    const flush = db.transaction((rows: SeedEvent[]) => {
      for (const { streamId, revision, event } of rows) {
        insert.run(
          streamId,
          revision,
          event.eventId,
          event.type,
          event.data === null ? null : JSON.stringify(event.data),
          JSON.stringify(event.metadata),
          event.createdAt.getTime(),
        );
      }
    });
    for (const round of rounds(events, options.prefix ?? '', counts)) {
      pending.push(...round);
      if (pending.length >= SQLITE_ROWS_PER_TRANSACTION) {
        flush(pending);
        written += pending.length;
        pending = [];
        options.progress?.(written);
      }
    }
    flush(pending);
    options.progress?.(written + pending.length);
    return counts;
  } finally {
    db.close();
  }
}
