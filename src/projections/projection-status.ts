import { EventStore } from '../event-store/event-store.port';
import { DocumentProjection, ProjectionFailure, ReadModelStore, RebuildProgress } from './read-model-store.port';

/** What an operator wants to know about a view: where it is, how far behind, and why it stopped. */
export interface ViewStatus {
  name: string;
  version: number;
  /** The generation that answers reads. */
  generation: number;
  position: number;
  head: number;
  /** Events in the log after the view's position. */
  lagEvents: number;
  /** How long the oldest event the view has not applied has been waiting; 0 when caught up. */
  lagSeconds: number;
  lastEventAt: Date | null;
  updatedAt: Date | null;
  failure: ProjectionFailure | null;
  rebuild: RebuildProgress | null;
}

/** Reads a view's status from the stores, so it shows what any process did to it. */
export async function viewStatusOf(
  events: EventStore,
  readModels: ReadModelStore,
  projection: DocumentProjection,
  now: Date,
  head?: number,
): Promise<ViewStatus> {
  const checkpoint = await readModels.checkpoint(projection);
  const logHead = head ?? (await events.headPosition());
  let lagSeconds = 0;
  if (checkpoint.position < logHead) {
    const [next] = await events.readAll({ after: checkpoint.position, limit: 1 });
    if (next) lagSeconds = Math.max(0, (now.getTime() - next.createdAt.getTime()) / 1000);
  }
  return {
    name: projection.name,
    version: projection.version,
    generation: checkpoint.generation,
    position: checkpoint.position,
    head: logHead,
    lagEvents: Math.max(0, logHead - checkpoint.position),
    lagSeconds,
    lastEventAt: checkpoint.lastEventAt,
    updatedAt: checkpoint.updatedAt,
    failure: checkpoint.failure,
    rebuild: checkpoint.rebuild,
  };
}
