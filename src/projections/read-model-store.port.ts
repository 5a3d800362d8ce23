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

export interface Checkpoint {
  /** Global position of the last event considered (applied or skipped). */
  position: number;
  /** Time of the last event applied. */
  lastEventAt: Date | null;
  updatedAt: Date | null;
}

export interface ReadModelStore {
  readonly backend: string;
  /** Creates the projection's table and checkpoint row when missing. */
  prepare(projection: DocumentProjection): Promise<void>;
  checkpoint(projection: DocumentProjection): Promise<Checkpoint>;
  /**
   * In one transaction: applies the events after the stored checkpoint (events at or before it
   * are skipped, which makes a retried batch harmless) and moves the checkpoint to `upTo`.
   * Returns the stored checkpoint position afterwards.
   */
  apply(projection: DocumentProjection, events: readonly RecordedEvent[], upTo: number): Promise<number>;
  get<D>(projection: DocumentProjection<D>, id: string): Promise<D | null>;
  close(): Promise<void>;
}

export const READ_MODEL_STORE = Symbol('ReadModelStore');

/** The table a projection version lives in, shared by every adapter. */
export const tableOf = (projection: DocumentProjection): string =>
  `rm_${projection.name}_v${projection.version}`.replace(/[^a-z0-9_]/gi, '_');
