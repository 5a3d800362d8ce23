import { Logger } from '@nestjs/common';
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { RecordedEvent, StoreUnavailableError } from '../../event-store/event-store.port';
import {
  Checkpoint,
  DocumentProjection,
  EvolveError,
  ListOptions,
  ProjectionBatch,
  ProjectionFailure,
  ReadModelStore,
  RebuildSupersededError,
  tableOf,
  viewKeyOf,
} from '../read-model-store.port';
import type { CheckpointerSettings } from './sqlite-checkpoint.worker';
import { SqliteCheckpointer } from './sqlite-checkpointer';

/** Versioned schema: entry i brings a database from user_version i to i + 1. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE projection_checkpoints (
     view          TEXT    PRIMARY KEY,
     position      INTEGER NOT NULL,
     last_event_at INTEGER,
     updated_at    INTEGER
   );`,
  // Generations: the active one is named with the checkpoint, the one being rebuilt has a row here.
  `ALTER TABLE projection_checkpoints ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE projection_checkpoints ADD COLUMN failure TEXT;
   CREATE TABLE projection_rebuilds (
     view          TEXT    PRIMARY KEY,
     generation    INTEGER NOT NULL,
     position      INTEGER NOT NULL,
     last_event_at INTEGER,
     started_at    INTEGER NOT NULL,
     updated_at    INTEGER,
     failure       TEXT
   );`,
];

/** How the WAL is checkpointed; see sqlite-checkpoint.worker. */
export type WalCheckpointOptions = Omit<CheckpointerSettings, 'file'>;

/**
 * A checkpoint every second. Under the bench's load the service wrote about 1,250 pages a second
 * here, and the WAL seldom started over by itself: it reached the 16,384 pages (64 MB) at which it
 * is truncated about every 13 s.
 */
export const WAL_CHECKPOINTS: WalCheckpointOptions = { intervalMs: 1000, truncatePages: 16_384 };

/** SQLite's own default: a commit that leaves the WAL this long checkpoints it. */
const AUTOCHECKPOINT_PAGES = 1000;

interface CheckpointRow {
  position: number;
  last_event_at: number | null;
  updated_at: number | null;
  generation: number;
  failure: string | null;
}

interface RebuildRow {
  generation: number;
  position: number;
  last_event_at: number | null;
  started_at: number;
  updated_at: number | null;
  failure: string | null;
}

interface TableStatements {
  select: Database.Statement<[string], string>;
  upsert: Database.Statement<[string, string]>;
  remove: Database.Statement<[string]>;
  count: Database.Statement<[], number>;
  listAscending: Database.Statement<[number, number], string>;
  listDescending: Database.Statement<[number, number], string>;
}

/**
 * Read models in their own SQLite file. They can always be rebuilt from the events, so commits use
 * synchronous=NORMAL; the checkpoint is written in the same transaction as the rows, so a crash
 * leaves both at the same event.
 *
 * Each generation of a view is a table of its own. Every operation reads the active generation
 * inside its transaction, so a switch made by another process (the CLI) is seen by the next read
 * or apply, and a reader never mixes two generations. WAL lets that other process write while
 * this one reads.
 */
export class SqliteReadModelStore implements ReadModelStore {
  readonly backend = 'sqlite';
  private readonly db: Database.Database;
  private readonly selectCheckpoint: Database.Statement<[string], CheckpointRow>;
  private readonly selectRebuild: Database.Statement<[string], RebuildRow>;
  private readonly insertCheckpoint: Database.Statement<[string]>;
  private readonly updateCheckpoint: Database.Statement<[number, number | null, number, string]>;
  private readonly updateRebuild: Database.Statement<[number, number | null, number, string]>;
  /** Prepared statements per table: preparing one per batch or read would cost more than the work. */
  private readonly tables = new Map<string, TableStatements>();
  /** The active generation last seen per view, to forget the statements of older tables. */
  private readonly generations = new Map<string, number>();
  /**
   * Runs the work it is given in a transaction. Made once: better-sqlite3 builds a wrapper (and
   * its nested-savepoint variants) per `transaction()` call, which cost more than a small apply.
   */
  private readonly transaction: Database.Transaction<(work: () => unknown) => unknown>;
  private readonly checkpointer: SqliteCheckpointer | null = null;
  private readonly logger = new Logger('ReadModelStore');

  constructor(
    file: string,
    private readonly now: () => Date = () => new Date(),
    checkpoints: WalCheckpointOptions = WAL_CHECKPOINTS,
  ) {
    try {
      if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
      this.db = new Database(file);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      // Rebuilds touch documents all over a table: a larger page cache than SQLite's 2 MB keeps
      // more of them in memory. 16 MB, not more: it counts towards the service's resident size.
      this.db.pragma('cache_size = -16384');
      migrate(this.db, MIGRATIONS);
      if (file !== ':memory:') {
        // Commits here run on the event loop; their checkpoints (two fsyncs each) do not.
        this.db.pragma('wal_autocheckpoint = 0');
        this.checkpointer = new SqliteCheckpointer({ file, ...checkpoints }, (message) => this.checkpointHere(message));
      }
    } catch (error) {
      throw new StoreUnavailableError(`cannot open the read model store at ${file}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    this.transaction = this.db.transaction((work: () => unknown) => work());
    this.selectCheckpoint = this.db.prepare(
      'SELECT position, last_event_at, updated_at, generation, failure FROM projection_checkpoints WHERE view = ?',
    );
    this.selectRebuild = this.db.prepare(
      'SELECT generation, position, last_event_at, started_at, updated_at, failure FROM projection_rebuilds WHERE view = ?',
    );
    this.insertCheckpoint = this.db.prepare(
      'INSERT OR IGNORE INTO projection_checkpoints (view, position, generation) VALUES (?, 0, 0)',
    );
    this.updateCheckpoint = this.db.prepare(
      `UPDATE projection_checkpoints SET position = ?, last_event_at = COALESCE(?, last_event_at), updated_at = ?
       WHERE view = ?`,
    );
    this.updateRebuild = this.db.prepare(
      `UPDATE projection_rebuilds SET position = ?, last_event_at = COALESCE(?, last_event_at), updated_at = ?
       WHERE view = ?`,
    );
  }

  async prepare(projection: DocumentProjection): Promise<void> {
    const view = viewKeyOf(projection);
    this.write(() => {
      this.insertCheckpoint.run(view);
      const active = this.selectCheckpoint.get(view)!.generation;
      const building = this.selectRebuild.get(view)?.generation;
      this.createTable(tableOf(projection, active));
      if (building !== undefined) this.createTable(tableOf(projection, building));
      // Tables of generations that are neither active nor being built are leftovers of a rebuild
      // that was replaced or of a switch whose clean-up did not happen (a crash).
      const keep = new Set([tableOf(projection, active), ...(building !== undefined ? [tableOf(projection, building)] : [])]);
      for (const table of this.generationTables(projection)) {
        if (!keep.has(table)) this.dropTable(table);
      }
    });
  }

  async checkpoint(projection: DocumentProjection): Promise<Checkpoint> {
    const view = viewKeyOf(projection);
    const { row, rebuild } = this.read(() => ({ row: this.selectCheckpoint.get(view), rebuild: this.selectRebuild.get(view) }));
    return {
      position: row?.position ?? 0,
      lastEventAt: dateOf(row?.last_event_at),
      updatedAt: dateOf(row?.updated_at),
      generation: row?.generation ?? 0,
      failure: failureOf(row?.failure),
      rebuild: rebuild
        ? {
            generation: rebuild.generation,
            position: rebuild.position,
            lastEventAt: dateOf(rebuild.last_event_at),
            startedAt: new Date(rebuild.started_at),
            updatedAt: dateOf(rebuild.updated_at),
            failure: failureOf(rebuild.failure),
          }
        : null,
    };
  }

  async apply(projection: DocumentProjection, events: readonly RecordedEvent[], upTo: number): Promise<number> {
    return this.write(() => this.applyToActive(projection, events, upTo).position);
  }

  async applyEach(batches: readonly ProjectionBatch[]): Promise<Array<{ position: number; generation: number }>> {
    return this.write(() => batches.map(({ projection, events, upTo }) => this.applyToActive(projection, events, upTo)));
  }

  async get<D>(projection: DocumentProjection<D>, id: string): Promise<D | null> {
    const doc = this.read(() => this.statementsFor(projection, this.activeGeneration(projection)).select.get(id));
    return doc === undefined ? null : (JSON.parse(doc) as D);
  }

  async list<D>(projection: DocumentProjection<D>, options: ListOptions): Promise<{ total: number; documents: D[] }> {
    return this.read(() => {
      const statements = this.statementsFor(projection, this.activeGeneration(projection));
      const list = options.descending ? statements.listDescending : statements.listAscending;
      return {
        total: statements.count.get() ?? 0,
        documents: list.all(options.limit, options.offset).map((doc) => JSON.parse(doc) as D),
      };
    });
  }

  async startRebuild(projection: DocumentProjection): Promise<number> {
    const view = viewKeyOf(projection);
    return this.write(() => {
      this.insertCheckpoint.run(view);
      const active = this.selectCheckpoint.get(view)!.generation;
      const abandoned = this.selectRebuild.get(view)?.generation;
      // Numbers are never reused, so a builder of an abandoned generation can always tell.
      const generation = Math.max(active, abandoned ?? 0) + 1;
      if (abandoned !== undefined) this.dropTable(tableOf(projection, abandoned));
      this.createTable(tableOf(projection, generation));
      this.db
        .prepare(
          `INSERT OR REPLACE INTO projection_rebuilds (view, generation, position, last_event_at, started_at, updated_at, failure)
           VALUES (?, ?, 0, NULL, ?, NULL, NULL)`,
        )
        .run(view, generation, this.now().getTime());
      return generation;
    });
  }

  async applyRebuild(
    projection: DocumentProjection,
    generation: number,
    events: readonly RecordedEvent[],
    upTo: number,
  ): Promise<number> {
    return this.write(() => this.applyToRebuild(projection, generation, events, upTo));
  }

  async finishRebuild(
    projection: DocumentProjection,
    generation: number,
    events: readonly RecordedEvent[],
    upTo: number,
  ): Promise<boolean> {
    const view = viewKeyOf(projection);
    const replaced = this.write(() => {
      const position = this.applyToRebuild(projection, generation, events, upTo);
      const active = this.selectCheckpoint.get(view)!;
      // Reads must never go back in time: a write that waited for the active generation to reach
      // its event must still see it after the switch.
      if (position < active.position) return null;
      const rebuilt = this.selectRebuild.get(view)!;
      this.db
        .prepare(
          `UPDATE projection_checkpoints
           SET generation = ?, position = ?, last_event_at = ?, updated_at = ?, failure = NULL WHERE view = ?`,
        )
        .run(generation, position, rebuilt.last_event_at, this.now().getTime(), view);
      this.db.prepare('DELETE FROM projection_rebuilds WHERE view = ?').run(view);
      return active.generation;
    });
    if (replaced === null) return false;
    // Outside the switch, so that dropping a large table does not lengthen it; a crash in between
    // leaves a table that the next prepare drops.
    this.write(() => this.dropTable(tableOf(projection, replaced)));
    return true;
  }

  async recordFailure(projection: DocumentProjection, generation: number, failure: ProjectionFailure | null): Promise<void> {
    const view = viewKeyOf(projection);
    const text = failure === null ? null : JSON.stringify({ ...failure, at: failure.at.getTime() });
    this.write(() => {
      this.db.prepare('UPDATE projection_checkpoints SET failure = ? WHERE view = ? AND generation = ?').run(text, view, generation);
      this.db.prepare('UPDATE projection_rebuilds SET failure = ? WHERE view = ? AND generation = ?').run(text, view, generation);
    });
  }

  async close(): Promise<void> {
    // The checkpointer's connection first: closing the last one folds the WAL into the file.
    await this.checkpointer?.close();
    if (this.db.open) this.db.close();
  }

  /** The checkpointer thread stopped: commits checkpoint again, as SQLite does by default. */
  private checkpointHere(message: string): void {
    this.logger.error(
      `the read models' checkpointer thread stopped (${message}); commits on the event loop checkpoint the WAL from now on, ` +
        'which can hold requests while the disk syncs. Restart the service to move them off it again.',
    );
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  }

  private applyToActive(
    projection: DocumentProjection,
    events: readonly RecordedEvent[],
    upTo: number,
  ): { position: number; generation: number } {
    const view = viewKeyOf(projection);
    const row = this.selectCheckpoint.get(view);
    if (!row) throw new Error(`read model ${view} is not prepared`);
    this.activeGeneration(projection);
    const { position, lastEventAt } = this.applyEvents(projection, row.generation, row.position, events, upTo);
    if (position !== row.position || lastEventAt !== null) {
      this.updateCheckpoint.run(position, lastEventAt, this.now().getTime(), view);
    }
    return { position, generation: row.generation };
  }

  private applyToRebuild(
    projection: DocumentProjection,
    generation: number,
    events: readonly RecordedEvent[],
    upTo: number,
  ): number {
    const view = viewKeyOf(projection);
    const rebuild = this.selectRebuild.get(view);
    if (!rebuild || rebuild.generation !== generation) throw new RebuildSupersededError(projection.name, generation);
    const { position, lastEventAt } = this.applyEvents(projection, generation, rebuild.position, events, upTo);
    if (position !== rebuild.position || lastEventAt !== null) {
      this.updateRebuild.run(position, lastEventAt, this.now().getTime(), view);
    }
    return position;
  }

  /** Evolves the documents of one generation; runs inside the caller's transaction. */
  private applyEvents(
    projection: DocumentProjection,
    generation: number,
    stored: number,
    events: readonly RecordedEvent[],
    upTo: number,
  ): { position: number; lastEventAt: number | null } {
    const statements = this.statementsFor(projection, generation);
    const fresh: RecordedEvent[] = [];
    const ids: Array<string | null> = [];
    for (const event of events) {
      if (event.position <= stored) continue;
      fresh.push(event);
      try {
        ids.push(projection.documentId(event));
      } catch (error) {
        throw new EvolveError(projection.name, event, error);
      }
    }
    if (fresh.length === 0) return { position: Math.max(stored, upTo), lastEventAt: null };
    // Documents touched by this batch: read and parsed once, evolved in memory, written once.
    // They are read in key order: walking the b-tree in order costs half of jumping around in it.
    const documents = new Map<string, unknown>();
    for (const id of [...new Set(ids)].sort()) {
      if (id === null) continue;
      const doc = statements.select.get(id);
      documents.set(id, doc === undefined ? null : JSON.parse(doc));
    }
    const changed = new Set<string>();
    for (let i = 0; i < fresh.length; i++) {
      const id = ids[i];
      if (id === null) continue;
      const before = documents.get(id);
      let after: unknown;
      try {
        after = projection.evolve(before as never, fresh[i]);
      } catch (error) {
        throw new EvolveError(projection.name, fresh[i], error);
      }
      if (after !== before) {
        documents.set(id, after);
        changed.add(id);
      }
    }
    // In key order, the writes walk the table's b-tree once instead of jumping around in it.
    for (const id of [...changed].sort()) {
      const doc = documents.get(id);
      if (doc === null) statements.remove.run(id);
      else statements.upsert.run(id, JSON.stringify(doc));
    }
    const last = fresh[fresh.length - 1];
    return { position: Math.max(stored, upTo, last.position), lastEventAt: last.createdAt.getTime() };
  }

  private statementsFor(projection: DocumentProjection, generation: number): TableStatements {
    const table = tableOf(projection, generation);
    let statements = this.tables.get(table);
    if (!statements) {
      const quoted = `"${table}"`;
      statements = {
        select: this.db.prepare<[string], string>(`SELECT doc FROM ${quoted} WHERE id = ?`).pluck(),
        upsert: this.db.prepare<[string, string]>(
          `INSERT INTO ${quoted} (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`,
        ),
        remove: this.db.prepare<[string]>(`DELETE FROM ${quoted} WHERE id = ?`),
        count: this.db.prepare<[], number>(`SELECT COUNT(*) FROM ${quoted}`).pluck(),
        listAscending: this.db.prepare<[number, number], string>(`SELECT doc FROM ${quoted} ORDER BY id LIMIT ? OFFSET ?`).pluck(),
        listDescending: this.db
          .prepare<[number, number], string>(`SELECT doc FROM ${quoted} ORDER BY id DESC LIMIT ? OFFSET ?`)
          .pluck(),
      };
      this.tables.set(table, statements);
    }
    return statements;
  }

  /**
   * The active generation of a view, read in the caller's transaction. When it moved on (here or
   * in another process) the statements of older tables go: they would fail once those are dropped.
   */
  private activeGeneration(projection: DocumentProjection): number {
    const view = viewKeyOf(projection);
    const generation = this.selectCheckpoint.get(view)?.generation ?? 0;
    const seen = this.generations.get(view);
    if (seen === undefined || seen < generation) {
      this.generations.set(view, generation);
      for (let older = seen ?? 0; older < generation; older++) this.tables.delete(tableOf(projection, older));
    }
    return generation;
  }

  private createTable(table: string): void {
    // WITHOUT ROWID keeps each document in the primary key's b-tree: one lookup per read, not two.
    this.db.exec(`CREATE TABLE IF NOT EXISTS "${table}" (id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID`);
  }

  private dropTable(table: string): void {
    this.tables.delete(table);
    this.db.exec(`DROP TABLE IF EXISTS "${table}"`);
  }

  /** Tables of every generation of this projection version. */
  private generationTables(projection: DocumentProjection): string[] {
    const base = tableOf(projection, 0);
    const pattern = new RegExp(`^${base}(_g\\d+)?$`);
    return this.db
      .prepare<[], string>(`SELECT name FROM sqlite_master WHERE type = 'table'`)
      .pluck()
      .all()
      .filter((name) => pattern.test(name));
  }

  /** A write transaction; BEGIN IMMEDIATE so that two processes never deadlock upgrading a read lock. */
  private write<T>(work: () => T): T {
    return this.guard(() => this.transaction.immediate(work) as T);
  }

  /** A read transaction: the generation and its documents come from one snapshot. */
  private read<T>(work: () => T): T {
    return this.guard(() => this.transaction.deferred(work) as T);
  }

  private guard<T>(work: () => T): T {
    if (!this.db.open) throw new StoreUnavailableError('the read model store is closed');
    try {
      return work();
    } catch (error) {
      if (isSqliteUnavailable(error)) {
        throw new StoreUnavailableError(`the read model store is unavailable: ${(error as Error).message}`, { cause: error });
      }
      throw error;
    }
  }
}

/** Errors that mean the file cannot be used now (locked too long, disk full, I/O), not a bug. */
function isSqliteUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL)/.test(code);
}

/**
 * Applies the migrations under the write lock and checks the version inside it, so that the
 * service and the CLI opening the same file at once do not both run a migration.
 */
function migrate(db: Database.Database, migrations: readonly string[]): void {
  for (;;) {
    const done = db
      .transaction(() => {
        const version = db.pragma('user_version', { simple: true }) as number;
        if (version >= migrations.length) return true;
        db.exec(migrations[version]);
        db.pragma(`user_version = ${version + 1}`);
        return false;
      })
      .immediate();
    if (done) return;
  }
}

function dateOf(ms: number | null | undefined): Date | null {
  return ms === null || ms === undefined ? null : new Date(ms);
}

function failureOf(text: string | null | undefined): ProjectionFailure | null {
  if (!text) return null;
  const stored = JSON.parse(text) as Omit<ProjectionFailure, 'at'> & { at: number };
  return { ...stored, at: new Date(stored.at) };
}
