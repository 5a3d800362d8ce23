import { RecordedEvent } from '../event-store/event-store.port';

/**
 * A projection is `evolve` for a table: each event changes at most one document (a row), found by
 * `documentId`. `evolve` must be pure so that a replay from the first event gives the same table.
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

/** Why a projection stopped: the event it could not apply, so nothing is skipped in silence. */
export interface ProjectionFailure {
  /**
   * Global position of the event that failed; every event before it is applied. (When the failure
   * is not one event's, eventType is empty and this is the position the view stopped after.)
   */
  position: number;
  eventType: string;
  streamId: string;
  message: string;
  at: Date;
}

/** A generation of a view being filled in the background while the active one answers reads. */
export interface RebuildProgress {
  generation: number;
  /** Global position of the last event considered by the new generation. */
  position: number;
  lastEventAt: Date | null;
  startedAt: Date;
  updatedAt: Date | null;
  failure: ProjectionFailure | null;
}

export interface Checkpoint {
  /** Global position of the last event considered (applied or skipped) by the active generation. */
  position: number;
  /** Time of the last event applied. */
  lastEventAt: Date | null;
  /** When the checkpoint last moved. */
  updatedAt: Date | null;
  /** The generation (table) that answers reads. */
  generation: number;
  failure: ProjectionFailure | null;
  /** The generation being rebuilt, if any. */
  rebuild: RebuildProgress | null;
}

/** The events of one projection to apply up to a position, as `apply` takes them. */
export interface ProjectionBatch {
  projection: DocumentProjection;
  events: readonly RecordedEvent[];
  upTo: number;
}

export interface ListOptions {
  offset: number;
  limit: number;
  descending: boolean;
}

/**
 * Where read models live. Every view is kept per generation: reads and `apply` go to the ACTIVE
 * generation, whose number is stored with the checkpoint; a rebuild fills the next generation
 * beside it and `finishRebuild` switches over atomically once it has caught up. Any process may
 * drive a rebuild (the service or the CLI); the store, not the process, knows which generation is
 * active, so every operation looks it up inside its own transaction.
 */
export interface ReadModelStore {
  readonly backend: string;
  /** Creates the projection's checkpoint row and the tables of its active and building generations when missing. */
  prepare(projection: DocumentProjection): Promise<void>;
  checkpoint(projection: DocumentProjection): Promise<Checkpoint>;
  /**
   * In one transaction, on the active generation: applies the events after the stored checkpoint
   * (events at or before it are skipped, which makes a retried batch harmless) and moves the
   * checkpoint to `upTo` (never back). Returns the stored position afterwards. `events` are the
   * projection's events, in global order, and every one of them up to `upTo` after the position
   * the caller read from. An error thrown by `evolve` rolls the whole batch back.
   *
   * The active position never decreases, not even across a switch of generations (see
   * finishRebuild), so a caller that reads from the position it last got back never misses an
   * event, whichever generation is active when its batch lands.
   */
  apply(projection: DocumentProjection, events: readonly RecordedEvent[], upTo: number): Promise<number>;
  /**
   * `apply` for several projections in one transaction (one commit for a batch of the log, not one
   * per projection). All or nothing: if one projection's evolve throws, none of them moves.
   * Returns each projection's stored position and active generation (another process may have
   * switched it), in the order given.
   */
  applyEach(batches: readonly ProjectionBatch[]): Promise<Array<{ position: number; generation: number }>>;
  /** A document of the active generation. */
  get<D>(projection: DocumentProjection<D>, id: string): Promise<D | null>;
  /** Documents of the active generation ordered by id, and how many there are in all. */
  list<D>(projection: DocumentProjection<D>, options: ListOptions): Promise<{ total: number; documents: D[] }>;
  /**
   * Starts filling a new, empty generation from the first event; a rebuild already under way is
   * abandoned (its table dropped). Returns the new generation's number.
   */
  startRebuild(projection: DocumentProjection): Promise<number>;
  /**
   * Like `apply`, on the building generation `generation`. Throws RebuildSupersededError when that
   * generation is no longer the one being built (it was switched to or replaced).
   */
  applyRebuild(
    projection: DocumentProjection,
    generation: number,
    events: readonly RecordedEvent[],
    upTo: number,
  ): Promise<number>;
  /**
   * In one transaction: applies the events to the building generation and, when it has then
   * reached the active generation's position, makes it the active one (clearing any failure);
   * the old generation's table is dropped afterwards. Returns true when it switched, false when
   * the active generation is still ahead (read more events and call again). Throws
   * RebuildSupersededError like `applyRebuild`.
   */
  finishRebuild(
    projection: DocumentProjection,
    generation: number,
    events: readonly RecordedEvent[],
    upTo: number,
  ): Promise<boolean>;
  /** Stores (or, with null, clears) why the given generation stopped. */
  recordFailure(projection: DocumentProjection, generation: number, failure: ProjectionFailure | null): Promise<void>;
  close(): Promise<void>;
}

export const READ_MODEL_STORE = Symbol('ReadModelStore');

/**
 * The table of a projection version's generation, shared by every adapter. Generation 0 keeps the
 * name tables had before generations existed, so existing data stays readable.
 */
export const tableOf = (projection: Pick<DocumentProjection, 'name' | 'version'>, generation = 0): string =>
  `rm_${projection.name}_v${projection.version}${generation > 0 ? `_g${generation}` : ''}`.replace(/[^a-z0-9_]/gi, '_');

/** The checkpoint key of a projection version (one row for all its generations). */
export const viewKeyOf = (projection: Pick<DocumentProjection, 'name' | 'version'>): string => tableOf(projection, 0);

/** `evolve` threw: the projection cannot apply this event. Adapters may wrap evolve's error in it. */
export class EvolveError extends Error {
  constructor(
    readonly projection: string,
    readonly event: RecordedEvent,
    cause: unknown,
  ) {
    super(
      `projection ${projection} cannot apply event ${event.type} at position ${event.position} ` +
        `(stream ${event.streamId}, revision ${event.revision}): ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'EvolveError';
  }
}

/** The generation a rebuild was filling is not being built any more: another rebuild replaced or finished it. */
export class RebuildSupersededError extends Error {
  constructor(
    readonly projection: string,
    readonly generation: number,
  ) {
    super(`the rebuild of ${projection} into generation ${generation} was superseded by another rebuild`);
    this.name = 'RebuildSupersededError';
  }
}

/** The events of a batch that a projection looks at, in order. */
export function eventsFor(projection: DocumentProjection, events: readonly RecordedEvent[], after: number): RecordedEvent[] {
  const types = typeSetOf(projection);
  return events.filter((event) => event.position > after && types.has(event.type));
}

const typeSets = new WeakMap<DocumentProjection, ReadonlySet<string>>();
function typeSetOf(projection: DocumentProjection): ReadonlySet<string> {
  let set = typeSets.get(projection);
  if (!set) typeSets.set(projection, (set = new Set(projection.eventTypes)));
  return set;
}
