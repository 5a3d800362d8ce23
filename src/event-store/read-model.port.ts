import { RecordedEvent } from './event-store.port';

/**
 * A projection is `evolve` for a table: each event changes at most one document (a row), found by
 * `documentId`. Both must be pure, so that a replay from the first event gives the same table.
 */
export interface DocumentProjection<D = unknown> {
  /** The view's name, as ListViews shows it. */
  readonly name: string;
  /** Bumped when evolve changes meaning; a new version is built in its own table. */
  readonly version: number;
  readonly eventTypes: readonly string[];
  documentId(event: RecordedEvent): string | null;
  evolve(document: D | null, event: RecordedEvent): D | null;
}

/** Why a view stopped: the event it could not apply, so nothing is skipped in silence. */
export interface ProjectionFailure {
  /** Global position of the event that failed; every event before it is applied. */
  position: number;
  eventType: string;
  streamId: string;
  message: string;
  at: Date;
}

/** Where a generation of a view is: the last event it considered (applied or skipped), and the time of the last it applied. */
interface Progress {
  position: number;
  lastEventAt: Date | null;
  /** When it last moved. */
  updatedAt: Date | null;
  /** Set when it stopped on an event; it then takes no more until that is cleared. */
  failure: ProjectionFailure | null;
}

/** A generation being filled in the background while the active one answers reads. */
export interface RebuildProgress extends Progress {
  generation: number;
  startedAt: Date;
}

export interface Checkpoint extends Progress {
  /** The generation (table) that answers reads. */
  generation: number;
  rebuild: RebuildProgress | null;
}

/** Where a view got to: the position it stored, and the event it stopped on, if it did. */
export interface Applied {
  position: number;
  failure: ProjectionFailure | null;
}

/** A step of a rebuild: how far it got and whether it became the active generation, or that another rebuild replaced it. */
export type RebuildStep = 'superseded' | (Applied & { switched: boolean });

export interface ListOptions {
  offset: number;
  limit: number;
  descending: boolean;
}

/**
 * Where read models live, per view and generation: reads and `apply` go to the active generation,
 * named with the checkpoint; a rebuild fills the next one beside it and switches over atomically
 * once it has caught up. Any process may drive a rebuild (the service or the CLI): every operation
 * looks the active generation up in its own transaction. On SQLite and PostgreSQL this store and
 * the event store are one database, and the views named at open are written by every append.
 */
export interface ReadModelStore {
  readonly backend: string;
  /** Creates the view's checkpoint and tables when missing, and drops tables of abandoned generations. */
  prepare(projection: DocumentProjection): Promise<void>;
  checkpoint(projection: DocumentProjection): Promise<Checkpoint>;
  /**
   * In one transaction, each view's active generation applies the events after its position and
   * moves to `upTo` (never back): a batch applied twice changes nothing. A view whose evolve throws
   * keeps the events before that one and stops there, the failure stored; a stopped view is left alone.
   */
  apply(projections: readonly DocumentProjection[], events: readonly RecordedEvent[], upTo: number): Promise<Applied[]>;
  /** A document of the active generation. */
  get<D>(projection: DocumentProjection<D>, id: string): Promise<D | null>;
  /** Documents of the active generation ordered by id, and how many there are in all. */
  list<D>(projection: DocumentProjection<D>, options: ListOptions): Promise<{ total: number; documents: D[] }>;
  /** Starts a new, empty generation (abandoning a rebuild under way); returns its number. */
  startRebuild(projection: DocumentProjection): Promise<number>;
  /**
   * `apply` for the generation being rebuilt. With `finish` (the caller read to the end of the log)
   * it also applies what the store holds beyond `upTo`, and when it is then as far as the active
   * generation, switches to it in the same transaction (clearing the failure) and drops the old one.
   */
  applyRebuild(
    projection: DocumentProjection,
    generation: number,
    events: readonly RecordedEvent[],
    upTo: number,
    finish: boolean,
  ): Promise<RebuildStep>;
  /** Stores (or, with null, clears) why the given generation stopped. */
  recordFailure(projection: DocumentProjection, generation: number, failure: ProjectionFailure | null): Promise<void>;
  close(): Promise<void>;
}

export const READ_MODEL_STORE = Symbol('ReadModelStore');

/** The table of a projection version's generation (generation 0: the name tables had before generations). */
export const tableOf = (projection: Pick<DocumentProjection, 'name' | 'version'>, generation = 0): string =>
  `rm_${projection.name}_v${projection.version}${generation > 0 ? `_g${generation}` : ''}`.replace(/[^a-z0-9_]/gi, '_');

/** The checkpoint key of a projection version (one row for all its generations). */
export const viewKeyOf = (projection: Pick<DocumentProjection, 'name' | 'version'>): string => tableOf(projection, 0);

/** A failure as it is stored and shown. */
export function failureOf(event: RecordedEvent, error: unknown, at: Date): ProjectionFailure {
  return {
    position: event.position,
    eventType: event.type,
    streamId: event.streamId,
    message: error instanceof Error ? error.message : String(error),
    at,
  };
}

/** What evolving a batch in memory gives: the documents to write (null: delete) and how far it got. */
export interface Evolved extends Applied {
  changes: Map<string, unknown>;
  /** Time of the last event applied, when one was. */
  lastEventAt: Date | null;
}

/**
 * Evolves the documents a batch touches, in memory, from `stored` on: each is loaded once and
 * written once. Stops at the first event whose documentId or evolve throws: the documents as of
 * the events before it are kept, and the position stays just before it.
 */
export function evolveBatch(
  projection: DocumentProjection,
  events: readonly RecordedEvent[],
  stored: number,
  upTo: number,
  load: (id: string) => unknown,
  now: Date,
): Evolved {
  const documents = new Map<string, unknown>();
  const changes = new Map<string, unknown>();
  let lastEventAt: Date | null = null;
  for (const event of events) {
    if (event.position <= stored || !projection.eventTypes.includes(event.type)) continue;
    try {
      const id = projection.documentId(event);
      if (id !== null) {
        const before = documents.has(id) ? documents.get(id) : load(id);
        const after = projection.evolve(before as never, event);
        documents.set(id, after);
        if (after !== before) changes.set(id, after);
      }
    } catch (error) {
      return { changes, position: event.position - 1, lastEventAt, failure: failureOf(event, error, now) };
    }
    lastEventAt = event.createdAt;
  }
  const last = events.length ? events[events.length - 1].position : 0;
  return { changes, position: Math.max(stored, upTo, last), lastEventAt, failure: null };
}

/** The ids of the documents a batch touches, to load them at once; ids that cannot be computed are left to evolveBatch. */
export function documentIdsOf(projection: DocumentProjection, events: readonly RecordedEvent[], stored: number): string[] {
  const ids = new Set<string>();
  for (const event of events) {
    if (event.position <= stored || !projection.eventTypes.includes(event.type)) continue;
    try {
      const id = projection.documentId(event);
      if (id !== null) ids.add(id);
    } catch {
      break;
    }
  }
  return [...ids];
}
