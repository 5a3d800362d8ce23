import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Pool, PoolClient } from 'pg';
import {
  AppendResult,
  EventStore,
  ExpectedRevision,
  NewEvent,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StoreUnavailableError,
  StreamRead,
  WrongExpectedRevisionError,
} from '../event-store.port';
import { CommittedTail } from '../committed-tail';
import {
  LOCK_NAMESPACE,
  Locks,
  PostgresOptions,
  createPool,
  isUnavailable,
  openFailure,
  query,
  rollback,
  toStoreError,
} from './postgres-connection';
import { Migration, migrate } from './postgres-migrations';
import { PostgresNotificationListener } from './postgres-notification.listener';

/**
 * data and metadata are json, not jsonb: json keeps the exact text appended, and jsonb refuses some
 * strings JSON can carry (\u0000, lone surrogates) that the API accepts, which would turn a valid
 * request into a failed append.
 */
export const EVENT_STORE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'events table',
    sql: `CREATE TABLE events (
            position   bigint      PRIMARY KEY,
            stream_id  text        NOT NULL,
            revision   integer     NOT NULL,
            event_id   text        NOT NULL,
            type       text        NOT NULL,
            data       json,
            metadata   json        NOT NULL,
            created_at timestamptz NOT NULL,
            CONSTRAINT events_stream_revision UNIQUE (stream_id, revision),
            CONSTRAINT events_event_id UNIQUE (event_id)
          );
          CREATE INDEX events_type_position ON events (type, position);`,
  },
];

/** Channel on which every append announces the new head position (payload: "<position> <instance>"). */
export const EVENTS_CHANNEL = 'mfa_events_appended';

/** Appends waiting at once that share one transaction; more wait for the next one. */
const MAX_GROUP = 200;
/** How long an append whose COMMIT went unanswered waits to learn whether it committed. */
const IN_DOUBT_WAIT_MS = 5000;

export interface PostgresEventStoreOptions extends PostgresOptions {
  /** Most appends per transaction (1 turns group commit off, for measurements). */
  maxGroup?: number;
}

interface EventRow {
  position: string;
  stream_id: string;
  revision: number;
  event_id: string;
  type: string;
  data: Record<string, unknown> | null;
  metadata: RecordedEvent['metadata'];
  created_at: Date;
}

interface PendingAppend {
  streamId: string;
  expected: ExpectedRevision;
  events: readonly NewEvent[];
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

type Outcome = { result: AppendResult } | { error: unknown };

interface PendingRead {
  streamId: string;
  fromRevision: number;
  /** null: no limit. */
  maxCount: number | null;
  resolve: (rows: EventRow[]) => void;
  reject: (error: unknown) => void;
}

const COLUMNS = 'position, stream_id, revision, event_id, type, data, metadata, created_at';

/**
 * The appends of a group as one statement, whatever their number: for each append (its stream
 * named once in the statement) it reads the stream's last revision and whether any of its event ids
 * is stored already, inserts its events only when the revision is the expected one and none is, and
 * answers per append the revision it found, the events it inserted and the first position they
 * took. A conflict is therefore an answer, not an error, and does not abort the other appends.
 * Positions follow on from $9 in the order of the appends, without a gap.
 *
 * One statement instead of one per append: each round trip waits for a turn of the busy event
 * loop, and the group holds the append lock for all of them (75 ms for a group of 32 appends
 * under the benchmark's load, most of it waiting).
 */
const GROUP_APPEND_SQL = `
  WITH ev AS MATERIALIZED (
    SELECT * FROM unnest($3::integer[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
      WITH ORDINALITY AS ev(ai, event_id, type, data, metadata, created_at, n)
  ), app AS MATERIALIZED (
    SELECT a.ai, a.expected,
           a.stream_id,
           coalesce((SELECT max(e.revision) FROM events e WHERE e.stream_id = a.stream_id), -1) AS head,
           (SELECT count(*) FROM ev JOIN events e ON e.event_id = ev.event_id WHERE ev.ai = a.ai)::integer AS existing
    FROM unnest($1::text[], $2::integer[]) WITH ORDINALITY AS a(stream_id, expected, ai)
  ), numbered AS MATERIALIZED (
    SELECT ev.ai, ev.event_id, ev.type, ev.data, ev.metadata, ev.created_at, app.stream_id,
           app.head + row_number() OVER (PARTITION BY ev.ai ORDER BY ev.n) AS revision,
           $9::bigint + row_number() OVER (ORDER BY ev.n) - 1 AS position
    FROM ev JOIN app ON app.ai = ev.ai
    WHERE app.existing = 0 AND (app.expected IS NULL OR app.head = app.expected)
  ), inserted AS (
    INSERT INTO events (${COLUMNS})
    SELECT position, stream_id, revision, event_id, type, data::json, metadata::json, created_at::timestamptz
    FROM numbered
    RETURNING 1
  )
  SELECT app.head AS revision, app.existing,
         (SELECT count(*) FROM numbered WHERE numbered.ai = app.ai)::integer AS inserted,
         (SELECT min(position) FROM numbered WHERE numbered.ai = app.ai)::text AS first
  FROM app ORDER BY app.ai`;

/** Stream reads in one statement at most; more go in the next. */
const MAX_READS = 256;

/**
 * The stream reads asked for in one turn of the event loop, as one statement: its rows carry the
 * ordinal of the read they answer. Under load a statement per read cost more than the reads
 * themselves: a socket write each (a quarter of the event loop's time in a profile) and a parse,
 * plan and round trip each in PostgreSQL.
 */
const READ_STREAMS_SQL = `
  SELECT r.i, e.*
  FROM unnest($1::text[], $2::integer[], $3::integer[]) WITH ORDINALITY AS r(stream_id, from_revision, max_count, i)
  CROSS JOIN LATERAL (
    SELECT ${COLUMNS} FROM events
    WHERE stream_id = r.stream_id AND revision >= r.from_revision
    ORDER BY revision LIMIT r.max_count
  ) e
  ORDER BY r.i, e.revision`;

/** Splits a group into rounds in which each stream appears once: a round is one statement. */
function roundsOf(group: readonly PendingAppend[]): PendingAppend[][] {
  const rounds: Array<{ streams: Set<string>; appends: PendingAppend[] }> = [];
  for (const pending of group) {
    // After the last round that has this stream, so that the appends to a stream stay in order.
    let at = rounds.length;
    while (at > 0 && !rounds[at - 1].streams.has(pending.streamId)) at--;
    if (at === rounds.length) rounds.push({ streams: new Set(), appends: [] });
    rounds[at].streams.add(pending.streamId);
    rounds[at].appends.push(pending);
  }
  return rounds.map((round) => round.appends);
}

/**
 * Events in PostgreSQL, shared by any number of service instances.
 *
 * Global order without skipped events: a reader polls "events after the last position I saw", so a
 * position must never become visible before a smaller one does. Each append transaction therefore
 * takes one transaction-level advisory lock before it looks at the head, and numbers its events
 * from max(position) + 1 under it. PostgreSQL releases that lock only after the commit is visible
 * to others, so the next appender (in this process or another) reads a head that includes it, and
 * transactions commit in the order of their positions. Positions are gap-free besides. The price is
 * that appends from all instances commit one transaction at a time; group commit (below) puts every
 * append that waits into that one transaction, so the lock is taken once per group, not per append.
 *
 * Optimistic concurrency: the expected revision is checked inside the same locked transaction, and
 * UNIQUE (stream_id, revision) backs it up should anything write without the lock.
 *
 * Group commit: appends that arrive while a transaction is in flight wait and then go together into
 * the next one, as one statement that cannot fail on a conflict (see GROUP_APPEND_SQL), so one
 * conflict does not fail the others. Should a statement fail for another reason, the group is
 * rolled back and its appends run again one transaction each, so only the faulty one fails.
 *
 * New events: the transaction NOTIFYs the new head, which PostgreSQL delivers on commit to every
 * instance listening; this process tells its own listeners directly after the commit, and its
 * read models and subscribers read what it appended from the tail it keeps (CommittedTail), not
 * from the table, as long as no other instance appended in between.
 */
export class PostgresEventStore implements EventStore {
  readonly backend = 'postgres';
  private readonly logger = new Logger(PostgresEventStore.name);
  private readonly instance = randomUUID().slice(0, 8);
  private readonly listeners = new Set<(position: number) => void>();
  private readonly listener: PostgresNotificationListener;
  private queue: PendingAppend[] = [];
  private reads: PendingRead[] = [];
  private readonly tail = new CommittedTail();
  private flushScheduled = false;
  private flushing: Promise<void> | null = null;
  private closed = false;

  private readonly maxGroup: number;

  private constructor(
    private readonly pool: Pool,
    url: string,
    options: PostgresEventStoreOptions,
  ) {
    this.maxGroup = Math.max(1, options.maxGroup ?? MAX_GROUP);
    this.listener = new PostgresNotificationListener(
      url,
      EVENTS_CHANNEL,
      {
        notification: (payload) => {
          const [position, instance] = payload.split(' ');
          if (instance !== this.instance) this.tell(Number(position));
        },
        reconnected: () => {
          this.headPosition().then(
            (head) => this.tell(head),
            () => undefined,
          );
        },
      },
      options,
    );
  }

  /** Connects, brings the schema up to date and starts listening for other instances' events. */
  static async open(url: string, options: PostgresEventStoreOptions = {}): Promise<PostgresEventStore> {
    const pool = createPool(url, PostgresEventStore.name, options);
    const store = new PostgresEventStore(pool, url, options);
    try {
      await migrate(pool, 'event_store', EVENT_STORE_MIGRATIONS);
      await store.listener.start();
    } catch (error) {
      await store.close();
      throw openFailure(toStoreError(error, 'opening'), 'event store', url);
    }
    return store;
  }

  append(streamId: string, expected: ExpectedRevision, events: readonly NewEvent[]): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('the event store is closed'));
    if (events.length === 0) return Promise.reject(new Error('append needs at least one event'));
    const unstorable = [streamId, ...events.flatMap((e) => [e.eventId, e.type])].find(hasNul);
    if (unstorable !== undefined) {
      return Promise.reject(new Error(`PostgreSQL text cannot hold the character U+0000, found in ${JSON.stringify(unstorable)}`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ streamId, expected, events, resolve, reject });
      this.scheduleFlush();
    });
  }

  /** One transaction at a time; appends that arrive meanwhile wait for the next one, together. */
  private scheduleFlush(): void {
    if (this.flushing || this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushing = this.flush().finally(() => {
        this.flushing = null;
        // Appends made between the last look at the queue and this point would wait forever.
        if (this.queue.length) this.scheduleFlush();
      });
    });
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<StreamRead> {
    const from = options.fromRevision ?? 0;
    // PostgreSQL text cannot hold U+0000, so no such stream can have been appended to.
    if (hasNul(streamId)) return { events: [], revision: 'no_stream' };
    const rows = await new Promise<EventRow[]>((resolve, reject) => {
      const read = { streamId, fromRevision: from, maxCount: options.maxCount ?? null, resolve, reject };
      if (this.reads.push(read) === 1) setImmediate(() => this.sendReads());
    });
    const events = rows.map(toRecorded);
    if (events.length) return { events, revision: events[events.length - 1].revision };
    if (from === 0) return { events, revision: 'no_stream' };
    // Nothing at or after `from`: the answer still names the stream's last revision.
    const [head] = await query<{ revision: number | null }>(
      this.pool,
      'reading a stream',
      'SELECT max(revision) AS revision FROM events WHERE stream_id = $1',
      [streamId],
    );
    return { events, revision: head.revision ?? 'no_stream' };
  }

  /** Sends the reads waiting, MAX_READS to a statement; a statement that fails fails its reads. */
  private sendReads(): void {
    const waiting = this.reads;
    this.reads = [];
    for (let at = 0; at < waiting.length; at += MAX_READS) {
      const batch = waiting.slice(at, at + MAX_READS);
      query<EventRow & { i: string }>(this.pool, 'reading a stream', READ_STREAMS_SQL, [
        batch.map((read) => read.streamId),
        batch.map((read) => read.fromRevision),
        // LIMIT NULL: no limit.
        batch.map((read) => read.maxCount),
      ]).then(
        (rows) => {
          const answers = batch.map((): EventRow[] => []);
          for (const row of rows) answers[Number(row.i) - 1].push(row);
          batch.forEach((read, k) => read.resolve(answers[k]));
        },
        (error) => batch.forEach((read) => read.reject(error)),
      );
    }
  }

  async readAll({ after, limit, eventTypes }: ReadAllOptions): Promise<RecordedEvent[]> {
    const recent = this.closed ? null : this.tail.read(after, limit, eventTypes);
    if (recent) return recent;
    const rows = eventTypes
      ? await query<EventRow>(
          this.pool,
          'reading all events',
          `SELECT ${COLUMNS} FROM events WHERE position > $1 AND type = ANY($3::text[]) ORDER BY position LIMIT $2`,
          [after, limit, eventTypes.filter((type) => !hasNul(type))],
        )
      : await query<EventRow>(
          this.pool,
          'reading all events',
          `SELECT ${COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT $2`,
          [after, limit],
        );
    return rows.map(toRecorded);
  }

  async headPosition(): Promise<number> {
    const rows = await query<{ head: string }>(
      this.pool,
      'reading the head position',
      'SELECT coalesce(max(position), 0) AS head FROM events',
    );
    return Number(rows[0].head);
  }

  onAppended(listener: (position: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Appends already accepted are committed (or fail) before the connections go.
    while (this.flushing || this.queue.length) {
      await (this.flushing ?? this.flush());
    }
    await this.listener.stop();
    await this.pool.end();
  }

  private tell(position: number): void {
    if (!Number.isFinite(position)) return;
    for (const listener of this.listeners) {
      try {
        listener(position);
      } catch (error) {
        this.logger.error(`an onAppended listener failed: ${(error as Error).stack ?? String(error)}`);
      }
    }
  }

  private async flush(): Promise<void> {
    while (this.queue.length) {
      const group = this.queue.splice(0, this.maxGroup);
      const outcomes = await this.commitGroup(group);
      let last = 0;
      const committed: RecordedEvent[] = [];
      group.forEach((pending, i) => {
        const outcome = outcomes[i];
        if ('result' in outcome) {
          last = Math.max(last, outcome.result.position);
          committed.push(...outcome.result.events);
          pending.resolve(outcome.result);
        } else {
          pending.reject(outcome.error);
        }
      });
      // A retried append answers events committed earlier: the gap they leave empties the tail.
      this.tail.remember(committed);
      if (last > 0) this.tell(last);
    }
  }

  /** Commits the group in one transaction; on an unexpected failure, each append in its own. */
  private async commitGroup(group: readonly PendingAppend[]): Promise<Outcome[]> {
    try {
      return await this.commit(group);
    } catch (error) {
      if (isUnavailable(error)) {
        const failure = toStoreError(error, 'appending');
        this.logger.warn(`${group.length} append(s) failed: ${(failure as Error).message}`);
        return group.map(() => ({ error: failure }));
      }
      if (group.length === 1) return [await this.failedAlone(error, group[0])];
      this.logger.warn(`a group of ${group.length} appends failed (${(error as Error).message}); retrying them one by one`);
      const outcomes: Outcome[] = [];
      for (const pending of group) outcomes.push(...(await this.commitGroup([pending])));
      return outcomes;
    }
  }

  private async commit(group: readonly PendingAppend[]): Promise<Outcome[]> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw toStoreError(error, 'connecting to append');
    }
    try {
      // One round trip; in READ COMMITTED each statement takes a new snapshot, so the head is read
      // after the lock is held and includes every append committed before.
      const opened = (await client.query(
        `BEGIN; SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}, ${Locks.append});
         SELECT coalesce(max(position), 0) AS head, txid_current()::text AS txid FROM events`,
      )) as unknown as Array<{ rows: Array<{ head: string; txid: string }> }>;
      const { txid } = opened[2].rows[0];
      let next = Number(opened[2].rows[0].head) + 1;
      const outcomes = new Map<PendingAppend, Outcome>();
      for (const round of roundsOf(group)) {
        const events = round.flatMap((pending, ai) => pending.events.map((event) => ({ ai: ai + 1, event })));
        const { rows } = await client.query<{ revision: number; existing: number; inserted: number; first: string | null }>(
          GROUP_APPEND_SQL,
          [
            round.map((pending) => pending.streamId),
            round.map((pending) => expectedRevisionOf(pending.expected)),
            events.map(({ ai }) => ai),
            events.map(({ event }) => event.eventId),
            events.map(({ event }) => event.type),
            events.map(({ event }) => (event.data === null ? null : JSON.stringify(event.data))),
            events.map(({ event }) => JSON.stringify(event.metadata)),
            events.map(({ event }) => event.createdAt.toISOString()),
            next,
          ],
        );
        for (const [i, pending] of round.entries()) {
          const { revision: head, existing, inserted, first } = rows[i];
          if (existing > 0) {
            outcomes.set(pending, await this.retried(client, pending));
          } else if (inserted === 0) {
            outcomes.set(pending, {
              error: new WrongExpectedRevisionError(pending.streamId, pending.expected, head < 0 ? 'no_stream' : head),
            });
          } else {
            const position = Number(first);
            const recorded = pending.events.map((event, k) => ({
              ...event,
              streamId: pending.streamId,
              revision: head + 1 + k,
              position: position + k,
            }));
            const last = recorded[recorded.length - 1];
            outcomes.set(pending, { result: { revision: last.revision, position: last.position, events: recorded } });
            next = last.position + 1;
          }
        }
      }
      const head = next - 1;
      const answers = group.map((pending) => outcomes.get(pending)!);
      // NOTIFY is delivered when (and only if) the transaction commits.
      const wrote = answers.some((o) => 'result' in o);
      try {
        await client.query(wrote ? `SELECT pg_notify('${EVENTS_CHANNEL}', '${head} ${this.instance}'); COMMIT` : 'ROLLBACK');
      } catch (error) {
        if (!wrote || !isUnavailable(error) || (await this.commitStatus(txid)) !== 'committed') throw error;
        // The connection broke after PostgreSQL had committed: the appends did happen.
        client.release(error as Error);
        this.logger.warn(`the connection broke while committing transaction ${txid}, which did commit`);
        return answers;
      }
      client.release();
      return answers;
    } catch (error) {
      await rollback(client, error);
      throw error;
    }
  }

  /**
   * Whether a transaction whose COMMIT got no answer committed after all, asked on a fresh
   * connection: without this, an append that is durable would be reported as not made. The answer
   * is worth waiting a little for (a short outage ends, a failover completes); when PostgreSQL
   * cannot be asked within IN_DOUBT_WAIT_MS, the outcome stays unknown and the append fails.
   */
  private async commitStatus(txid: string): Promise<string | null> {
    const deadline = Date.now() + IN_DOUBT_WAIT_MS;
    while (Date.now() < deadline && !this.closed) {
      try {
        const { rows } = await this.pool.query<{ status: string | null }>('SELECT txid_status($1) AS status', [txid]);
        // 'in progress': the server has not yet noticed the broken connection; ask again.
        if (rows[0].status !== 'in progress') return rows[0].status;
      } catch {
        // unreachable for now; ask again
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    this.logger.warn(`cannot tell whether transaction ${txid} committed: its appends are reported as failed, though they may be durable`);
    return null;
  }

  /** What an append that failed in a transaction of its own answers, in the port's terms. */
  private async failedAlone(error: unknown, pending: PendingAppend): Promise<Outcome> {
    const { code, constraint } = error as { code?: string; constraint?: string };
    try {
      if (code === '23505' && constraint === 'events_stream_revision') {
        // Someone wrote to the stream without the append lock; the revision check still holds.
        const { revision } = await this.readStream(pending.streamId);
        return { error: new WrongExpectedRevisionError(pending.streamId, pending.expected, revision) };
      }
      if (code === '23505' && constraint === 'events_event_id') return await this.retried(this.pool, pending);
    } catch (failure) {
      return { error: toStoreError(failure, 'appending') };
    }
    return { error };
  }

  /**
   * An append whose event ids are already stored is a retry of one that committed (its answer was
   * lost): it answers what was stored, as long as that is exactly these events in this stream.
   */
  private async retried(db: Pool | PoolClient, pending: PendingAppend): Promise<Outcome> {
    const ids = pending.events.map((e) => e.eventId);
    const { rows } = await db.query<EventRow>(`SELECT ${COLUMNS} FROM events WHERE event_id = ANY($1::text[]) ORDER BY position`, [
      ids,
    ]);
    const stored = rows.map(toRecorded);
    const same =
      stored.length === ids.length &&
      stored.every(
        (e, i) =>
          e.eventId === ids[i] &&
          e.streamId === pending.streamId &&
          e.type === pending.events[i].type &&
          (i === 0 || e.revision === stored[i - 1].revision + 1),
      );
    if (!same) {
      const used = stored.map((e) => `${e.eventId} (in ${e.streamId})`).join(', ');
      return { error: new Error(`append to ${pending.streamId} reuses event ids already stored: ${used}`) };
    }
    const last = stored[stored.length - 1];
    return { result: { revision: last.revision, position: last.position, events: stored } };
  }
}

const hasNul = (text: string): boolean => text.includes('\u0000');

function expectedRevisionOf(expected: ExpectedRevision): number | null {
  if (expected === 'any') return null;
  if (expected === 'no_stream') return -1;
  return expected;
}

function toRecorded(row: EventRow): RecordedEvent {
  return {
    eventId: row.event_id,
    streamId: row.stream_id,
    revision: row.revision,
    position: Number(row.position),
    type: row.type,
    data: row.data,
    metadata: row.metadata,
    createdAt: row.created_at,
  };
}
