import { EventStore } from '../event-store/event-store.port';
import { Checkpoint, DocumentProjection, ReadModelStore } from '../event-store/read-model.port';

/** What an operator wants to know about a view: where it is, how far behind, and why it stopped. */
export interface ViewStatus extends Checkpoint {
  name: string;
  version: number;
  /** Position of the last event in the log. */
  head: number;
  /** Events in the log after the view's position. */
  lagEvents: number;
  /** How long the oldest event the view has not applied has been waiting; 0 when caught up. */
  lagSeconds: number;
}

/** A view's status as the stores have it, so it shows what any process did to it. */
export async function viewStatusOf(
  events: EventStore,
  readModels: ReadModelStore,
  projection: DocumentProjection,
  now: Date,
  head: number,
): Promise<ViewStatus> {
  const checkpoint = await readModels.checkpoint(projection);
  const [next] = checkpoint.position < head ? await events.readAll({ after: checkpoint.position, limit: 1 }) : [];
  const lagSeconds = next ? Math.max(0, (now.getTime() - next.createdAt.getTime()) / 1000) : 0;
  return { ...checkpoint, name: projection.name, version: projection.version, head, lagEvents: Math.max(0, head - checkpoint.position), lagSeconds };
}
