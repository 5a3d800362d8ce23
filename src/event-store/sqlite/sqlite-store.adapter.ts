import Database from 'better-sqlite3';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
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
import { AppendOutcome, AppendRequest, GroupCommit } from '../group-commit';
import {
  Applied,
  Checkpoint,
  DocumentProjection,
  ListOptions,
  ProjectionFailure,
  ReadModelStore,
  RebuildStep,
  evolveBatch,
  tableOf,
  viewKeyOf,
} from '../read-model.port';

/**
 * Every statement is idempotent, so one schema serves a new file, an events file and a read-models
 * file of earlier versions alike.
 */
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS events (
    position   INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id  TEXT    NOT NULL,
    revision   INTEGER NOT NULL,
    event_id   TEXT    NOT NULL UNIQUE,
    type       TEXT    NOT NULL,
    data       TEXT,
    metadata   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (stream_id, revision)
  );
  CREATE TABLE IF NOT EXISTS projection_checkpoints (
    view          TEXT    PRIMARY KEY,
    position      INTEGER NOT NULL,
    last_event_at INTEGER,
    updated_at    INTEGER,
    generation    INTEGER NOT NULL DEFAULT 0,
    failure       TEXT
  );
  CREATE TABLE IF NOT EXISTS projection_rebuilds (
    view          TEXT    PRIMARY KEY,
    generation    INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    last_event_at INTEGER,
    started_at    INTEGER NOT NULL,
    updated_at    INTEGER,
    failure       TEXT
  );`;

/** Appends in one transaction at most; more wait for the next one. */
const MAX_GROUP = 1000;

const EVENT_COLUMNS = 'position, stream_id, revision, event_id, type, data, metadata, created_at';
/** A row of the events table as an array (`raw`), in the order of EVENT_COLUMNS. */
type EventRow = [number, string, number, string, string, string | null, string, number];

interface CheckpointRow {
  position: number;
  last_event_at: number | null;
  updated_at: number | null;
  generation: number;
  failure: string | null;
}
type RebuildRow = Omit<CheckpointRow, 'generation'> & { generation: number; started_at: number };

interface TableStatements {
  select: Database.Statement<[string], string>;
  upsert: Database.Statement<[string, string]>;
  remove: Database.Statement<[string]>;
  count: Database.Statement<[], number>;
  list: Record<'asc' | 'desc', Database.Statement<[number, number], string>>;
}

export interface SqliteStoreOptions {
  /**
   * Given when this file holds the events: these projections are applied in the transaction of
   * every append, and a rebuild's switch applies the events it finds after its batches.
   */
  inline?: readonly DocumentProjection[];
  now?: () => Date;
  /** Most appends per transaction (group commit); default MAX_GROUP. */
  maxGroup?: number;
}

/**
 * The embedded store: events and read models in one SQLite file in WAL mode.
 *
 * An append commits with synchronous=FULL, so it is on disk before it resolves; everything else
 * (followers, rebuilds) commits with NORMAL: it can be derived again from the events, and the next
 * durable commit takes it to disk with it. Appends made in one turn of the event loop share a
 * transaction (GroupCommit), which writes the events, then the inline projections' documents and
 * checkpoints, so a read never sees an event without its effect.
 *
 * Global order: SQLite has one writer at a time and positions come from AUTOINCREMENT inside the
 * write transaction, so positions become visible in the order they were assigned.
 */
export class SqliteStore implements EventStore, ReadModelStore {
  readonly backend = 'sqlite';
  private readonly db: Database.Database;
  private readonly appends: GroupCommit;
  private readonly listeners = new Set<(position: number) => void>();
  private readonly inline: readonly DocumentProjection[];
  private readonly holdsEvents: boolean;
  private readonly now: () => Date;
  private readonly tables = new Map<string, TableStatements>();
  private readonly sql;
  private readonly write: <T>(work: () => T) => T;
  private readonly read: <T>(work: () => T) => T;
  private closed = false;

  constructor(
    readonly file: string,
    options: SqliteStoreOptions = {},
  ) {
    try {
      if (file !== ':memory:') {
        mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        // Emails are in it: only the service's user may read it. SQLite gives its -wal and -shm files the same mode.
        closeSync(openSync(file, 'a', 0o600));
      }
      this.db = new Database(file);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      this.db.transaction(() => this.db.exec(SCHEMA)).immediate();
    } catch (error) {
      throw new StoreUnavailableError(`cannot open the store at ${file}: ${(error as Error).message}`, { cause: error });
    }
    this.inline = options.inline ?? [];
    this.holdsEvents = options.inline !== undefined;
    this.now = options.now ?? (() => new Date());
    const db = this.db;
    this.sql = {
      durable: db.prepare('PRAGMA synchronous = FULL'),
      relaxed: db.prepare('PRAGMA synchronous = NORMAL'),
      streamHead: db.prepare<[string], number>('SELECT MAX(revision) FROM events WHERE stream_id = ?').pluck(),
      insert: db.prepare<[string, number, string, string, string | null, string, number]>(
        'INSERT INTO events (stream_id, revision, event_id, type, data, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      // Revisions have no gaps, so a page is a range of them; a bound LIMIT would make SQLite plan the statement again.
      stream: db.prepare<[string, number, number], EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? AND revision >= ? AND revision < ? ORDER BY revision`,
      ).raw(),
      all: db.prepare<[number, number], EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?`).raw(),
      between: db.prepare<[number, number], EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE position > ? AND position < ? ORDER BY position`,
      ).raw(),
      head: db.prepare<[], number | null>('SELECT MAX(position) FROM events').pluck(),
      checkpoint: db.prepare<[string], CheckpointRow>(
        'SELECT position, last_event_at, updated_at, generation, failure FROM projection_checkpoints WHERE view = ?',
      ),
      rebuild: db.prepare<[string], RebuildRow>(
        'SELECT generation, position, last_event_at, started_at, updated_at, failure FROM projection_rebuilds WHERE view = ?',
      ),
      addCheckpoint: db.prepare<[string]>('INSERT OR IGNORE INTO projection_checkpoints (view, position, generation) VALUES (?, 0, 0)'),
      moveCheckpoint: db.prepare<[number, number | null, number, string | null, string]>(
        `UPDATE projection_checkpoints SET position = ?, last_event_at = COALESCE(?, last_event_at), updated_at = ?, failure = ?
         WHERE view = ?`,
      ),
      moveRebuild: db.prepare<[number, number | null, number, string | null, string]>(
        `UPDATE projection_rebuilds SET position = ?, last_event_at = COALESCE(?, last_event_at), updated_at = ?, failure = ?
         WHERE view = ?`,
      ),
    };
    const transaction = db.transaction((work: () => unknown) => work());
    this.write = <T>(work: () => T) => this.guard(() => transaction.immediate(work) as T);
    this.read = <T>(work: () => T) => this.guard(() => transaction.deferred(work) as T);
    for (const projection of this.inline) this.write(() => this.prepareView(projection));
    this.appends = new GroupCommit(async (group) => this.commit(group), options.maxGroup ?? MAX_GROUP);
  }

  append(streamId: string, expected: ExpectedRevision, events: readonly NewEvent[]): Promise<AppendResult> {
    if (this.closed) return Promise.reject(new StoreUnavailableError('the event store is closed'));
    if (events.length === 0) return Promise.reject(new Error('append needs at least one event'));
    return this.appends.append({ streamId, expected, events });
  }

  async readStream(streamId: string, { fromRevision = 0, maxCount }: ReadStreamOptions = {}): Promise<StreamRead> {
    const rows = this.guard(() => this.sql.stream.all(streamId, fromRevision, fromRevision + Math.max(0, maxCount ?? 2 ** 31)));
    if (rows.length) return { events: rows.map(toRecorded), revision: rows[rows.length - 1][2] };
    const head = fromRevision > 0 ? this.guard(() => this.sql.streamHead.get(streamId)) : null;
    return { events: [], revision: head ?? 'no_stream' };
  }

  async readAll({ after, limit }: ReadAllOptions): Promise<RecordedEvent[]> {
    return this.guard(() => this.sql.all.all(after, limit)).map(toRecorded);
  }

  async headPosition(): Promise<number> {
    return this.guard(() => this.sql.head.get()) ?? 0;
  }

  onAppended(listener: (position: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Commits what is queued, then closes: appends already accepted are not lost. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.appends.drain();
    this.db.close();
  }

  async prepare(projection: DocumentProjection): Promise<void> {
    this.write(() => this.prepareView(projection));
  }

  async checkpoint(projection: DocumentProjection): Promise<Checkpoint> {
    const view = viewKeyOf(projection);
    const [row, rebuild] = this.read(() => [this.sql.checkpoint.get(view), this.sql.rebuild.get(view)] as const);
    return {
      position: row?.position ?? 0,
      lastEventAt: dateOf(row?.last_event_at),
      updatedAt: dateOf(row?.updated_at),
      generation: row?.generation ?? 0,
      failure: parseFailure(row?.failure),
      rebuild: rebuild
        ? {
            generation: rebuild.generation,
            position: rebuild.position,
            lastEventAt: dateOf(rebuild.last_event_at),
            startedAt: new Date(rebuild.started_at),
            updatedAt: dateOf(rebuild.updated_at),
            failure: parseFailure(rebuild.failure),
          }
        : null,
    };
  }

  async apply(projections: readonly DocumentProjection[], events: readonly RecordedEvent[], upTo: number): Promise<Applied[]> {
    return this.write(() => projections.map((projection) => this.applyToActive(projection, events, upTo)));
  }

  async get<D>(projection: DocumentProjection<D>, id: string): Promise<D | null> {
    const doc = this.read(() => this.activeTable(projection).select.get(id));
    return doc === undefined ? null : (JSON.parse(doc) as D);
  }

  async list<D>(projection: DocumentProjection<D>, { offset, limit, descending }: ListOptions): Promise<{ total: number; documents: D[] }> {
    return this.read(() => {
      const table = this.activeTable(projection);
      const documents = table.list[descending ? 'desc' : 'asc'].all(limit, offset).map((doc) => JSON.parse(doc) as D);
      return { total: table.count.get() ?? 0, documents };
    });
  }

  async startRebuild(projection: DocumentProjection): Promise<number> {
    const view = viewKeyOf(projection);
    return this.write(() => {
      this.sql.addCheckpoint.run(view);
      const active = this.sql.checkpoint.get(view)!.generation;
      const abandoned = this.sql.rebuild.get(view)?.generation;
      // Numbers are never reused, so a builder of an abandoned generation can always tell.
      const generation = Math.max(active, abandoned ?? 0) + 1;
      if (abandoned !== undefined) this.dropTable(tableOf(projection, abandoned));
      this.createTable(tableOf(projection, generation));
      this.db
        .prepare('INSERT OR REPLACE INTO projection_rebuilds (view, generation, position, started_at) VALUES (?, ?, 0, ?)')
        .run(view, generation, this.now().getTime());
      return generation;
    });
  }

  async applyRebuild(
    projection: DocumentProjection,
    generation: number,
    events: readonly RecordedEvent[],
    upTo: number,
    finish: boolean,
  ): Promise<RebuildStep> {
    const view = viewKeyOf(projection);
    const step = this.write((): RebuildStep & { replaced?: number } => {
      const rebuild = this.sql.rebuild.get(view);
      if (rebuild?.generation !== generation) return 'superseded';
      let applied = this.applyTo(projection, generation, rebuild.position, events, upTo, this.sql.moveRebuild);
      if (!finish || applied.failure) return { ...applied, switched: false };
      if (this.holdsEvents) {
        // Appends wait for this transaction: what they wrote since the caller's last read is all here.
        const rest = this.sql.between.all(applied.position, Number.MAX_SAFE_INTEGER).map(toRecorded);
        if (rest.length) applied = this.applyTo(projection, generation, applied.position, rest, rest[rest.length - 1].position, this.sql.moveRebuild);
        if (applied.failure) return { ...applied, switched: false };
      }
      const active = this.sql.checkpoint.get(view)!;
      // Reads never go back in time: the new generation takes over only once it is as far as the old one.
      if (applied.position < active.position) return { ...applied, switched: false };
      const built = this.sql.rebuild.get(view)!;
      this.db
        .prepare(
          `UPDATE projection_checkpoints SET generation = ?, position = ?, last_event_at = ?, updated_at = ?, failure = NULL
           WHERE view = ?`,
        )
        .run(generation, applied.position, built.last_event_at, this.now().getTime(), view);
      this.db.prepare('DELETE FROM projection_rebuilds WHERE view = ?').run(view);
      return { ...applied, switched: true, replaced: active.generation };
    });
    if (step === 'superseded' || step.replaced === undefined) return step;
    // Apart from the switch, so that dropping a large table does not lengthen it; a crash in
    // between leaves a table that the next prepare drops.
    const { replaced, ...switched } = step;
    this.write(() => this.dropTable(tableOf(projection, replaced)));
    return switched;
  }

  async recordFailure(projection: DocumentProjection, generation: number, failure: ProjectionFailure | null): Promise<void> {
    const view = viewKeyOf(projection);
    const text = stringifyFailure(failure);
    this.write(() => {
      this.db.prepare('UPDATE projection_checkpoints SET failure = ? WHERE view = ? AND generation = ?').run(text, view, generation);
      this.db.prepare('UPDATE projection_rebuilds SET failure = ? WHERE view = ? AND generation = ?').run(text, view, generation);
    });
  }

  /** One group of appends, their events and the inline projections in one durable transaction. */
  private commit(group: readonly AppendRequest[]): AppendOutcome[] {
    const committed: RecordedEvent[] = [];
    this.sql.durable.run();
    let outcomes: AppendOutcome[];
    try {
      outcomes = this.write(() => {
        committed.length = 0;
        const answers = group.map((append) => this.appendOne(append, committed));
        if (committed.length) for (const projection of this.inline) this.applyInline(projection, committed);
        return answers;
      });
    } finally {
      this.sql.relaxed.run();
    }
    if (committed.length) {
      const head = committed[committed.length - 1].position;
      for (const listener of this.listeners) listener(head);
    }
    return outcomes;
  }

  private appendOne({ streamId, expected, events }: AppendRequest, committed: RecordedEvent[]): AppendOutcome {
    const head = this.sql.streamHead.get(streamId) ?? null;
    const actual = head ?? 'no_stream';
    if (expected !== 'any' && expected !== actual) return new WrongExpectedRevisionError(streamId, expected, actual);
    let revision = head ?? -1;
    const recorded = events.map((event): RecordedEvent => {
      revision += 1;
      const data = event.data === null ? null : JSON.stringify(event.data);
      const { lastInsertRowid } = this.sql.insert.run(
        streamId,
        revision,
        event.eventId,
        event.type,
        data,
        JSON.stringify(event.metadata),
        event.createdAt.getTime(),
      );
      return { ...event, streamId, revision, position: Number(lastInsertRowid) };
    });
    committed.push(...recorded);
    return { revision, position: recorded[recorded.length - 1].position, events: recorded };
  }

  /**
   * Brings an inline view to the end of this transaction's events. Events before them that it has
   * not applied (another process appended without it) are read first; a stopped view is left alone.
   */
  private applyInline(projection: DocumentProjection, committed: readonly RecordedEvent[]): void {
    const row = this.sql.checkpoint.get(viewKeyOf(projection));
    if (!row || row.failure !== null) return;
    const first = committed[0].position;
    const missed = row.position < first - 1 ? this.sql.between.all(row.position, first).map(toRecorded) : [];
    const events = missed.length ? [...missed, ...committed] : committed;
    this.applyTo(projection, row.generation, row.position, events, committed[committed.length - 1].position, this.sql.moveCheckpoint);
  }

  private applyToActive(projection: DocumentProjection, events: readonly RecordedEvent[], upTo: number): Applied {
    const row = this.sql.checkpoint.get(viewKeyOf(projection));
    if (!row) throw new Error(`read model ${projection.name} is not prepared`);
    if (row.failure !== null) return { position: row.position, failure: parseFailure(row.failure) };
    return this.applyTo(projection, row.generation, row.position, events, upTo, this.sql.moveCheckpoint);
  }

  /** Evolves one generation's documents and moves its checkpoint; inside the caller's transaction. */
  private applyTo(
    projection: DocumentProjection,
    generation: number,
    stored: number,
    events: readonly RecordedEvent[],
    upTo: number,
    move: Database.Statement<[number, number | null, number, string | null, string]>,
  ): Applied {
    const table = this.table(tableOf(projection, generation));
    const load = (id: string) => {
      const doc = table.select.get(id);
      return doc === undefined ? null : JSON.parse(doc);
    };
    const { changes, position, lastEventAt, failure } = evolveBatch(projection, events, stored, upTo, load, this.now());
    for (const [id, doc] of changes) {
      if (doc === null) table.remove.run(id);
      else table.upsert.run(id, JSON.stringify(doc));
    }
    if (position !== stored || failure) {
      move.run(position, lastEventAt?.getTime() ?? null, this.now().getTime(), stringifyFailure(failure), viewKeyOf(projection));
    }
    return { position, failure };
  }

  private prepareView(projection: DocumentProjection): void {
    const view = viewKeyOf(projection);
    this.sql.addCheckpoint.run(view);
    const keep = [this.sql.checkpoint.get(view)!.generation, this.sql.rebuild.get(view)?.generation]
      .filter((generation) => generation !== undefined)
      .map((generation) => tableOf(projection, generation));
    for (const table of keep) this.createTable(table);
    // Tables of generations neither active nor being built: a replaced rebuild, or a switch that crashed before its clean-up.
    const pattern = new RegExp(`^${tableOf(projection, 0)}(_g\\d+)?$`);
    const tables = this.db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
    for (const table of tables) if (pattern.test(table) && !keep.includes(table)) this.dropTable(table);
  }

  private activeTable(projection: DocumentProjection): TableStatements {
    const generation = this.sql.checkpoint.get(viewKeyOf(projection))?.generation ?? 0;
    return this.table(tableOf(projection, generation));
  }

  /** A table's statements, prepared once: preparing them costs more than most of the work they do. */
  private table(name: string): TableStatements {
    let statements = this.tables.get(name);
    if (!statements) {
      const table = `"${name}"`;
      const list = (order: string) =>
        this.db.prepare<[number, number], string>(`SELECT doc FROM ${table} ORDER BY id ${order} LIMIT ? OFFSET ?`).pluck();
      statements = {
        select: this.db.prepare<[string], string>(`SELECT doc FROM ${table} WHERE id = ?`).pluck(),
        upsert: this.db.prepare<[string, string]>(
          `INSERT INTO ${table} (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`,
        ),
        remove: this.db.prepare<[string]>(`DELETE FROM ${table} WHERE id = ?`),
        count: this.db.prepare<[], number>(`SELECT COUNT(*) FROM ${table}`).pluck(),
        list: { asc: list('ASC'), desc: list('DESC') },
      };
      this.tables.set(name, statements);
    }
    return statements;
  }

  private createTable(name: string): void {
    // WITHOUT ROWID keeps each document in the primary key's b-tree: one lookup per read, not two.
    this.db.exec(`CREATE TABLE IF NOT EXISTS "${name}" (id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID`);
  }

  private dropTable(name: string): void {
    this.tables.delete(name);
    this.db.exec(`DROP TABLE IF EXISTS "${name}"`);
  }

  private guard<T>(work: () => T): T {
    if (!this.db.open) throw new StoreUnavailableError('the store is closed');
    try {
      return work();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      // The file cannot be used now (locked too long, disk full, I/O), which is no bug of the caller's.
      if (typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL|NOTADB|CORRUPT)/.test(code)) {
        throw new StoreUnavailableError(`the store at ${this.file} is unavailable: ${(error as Error).message}`, { cause: error });
      }
      throw error;
    }
  }
}

function toRecorded([position, streamId, revision, eventId, type, data, metadata, createdAt]: EventRow): RecordedEvent {
  return {
    eventId,
    streamId,
    revision,
    position,
    type,
    data: data === null ? null : (JSON.parse(data) as Record<string, unknown>),
    metadata: JSON.parse(metadata) as RecordedEvent['metadata'],
    createdAt: new Date(createdAt),
  };
}

const dateOf = (ms: number | null | undefined): Date | null => (ms === null || ms === undefined ? null : new Date(ms));

const stringifyFailure = (failure: ProjectionFailure | null): string | null =>
  failure === null ? null : JSON.stringify({ ...failure, at: failure.at.getTime() });

function parseFailure(text: string | null | undefined): ProjectionFailure | null {
  if (!text) return null;
  const stored = JSON.parse(text) as Omit<ProjectionFailure, 'at'> & { at: number };
  return { ...stored, at: new Date(stored.at) };
}
