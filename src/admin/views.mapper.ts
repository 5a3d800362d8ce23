import { ProjectionFailure } from '../event-store/read-model.port';
import { ViewStatus } from '../projections/view-status';

/** The two kinds of views ListViews shows, as its `database`. */
export const PROJECTIONS_DATABASE = 'projections';
export const SUBSCRIPTIONS_DATABASE = 'subscriptions';

export interface ViewError {
  message: string;
  sequence: string;
  eventType?: string;
  aggregateId?: string;
  failedAt: string;
}

/** zitadel.admin.v1.View, then our status fields; empty fields are left out, as protobuf JSON does. */
export interface View {
  database: string;
  viewName: string;
  processedSequence: string;
  eventTimestamp?: string;
  lastSuccessfulSpoolerRun?: string;
  version: number;
  generation?: number;
  headSequence: string;
  lagEvents: string;
  lagSeconds: number;
  state: 'VIEW_STATE_RUNNING' | 'VIEW_STATE_REBUILDING' | 'VIEW_STATE_FAILED';
  lastError?: ViewError;
  rebuild?: {
    generation: number;
    processedSequence: string;
    eventTimestamp?: string;
    startedAt: string;
    error?: ViewError;
  };
}

export function toView(database: string, status: ViewStatus): View {
  const { rebuild } = status;
  return {
    database,
    viewName: status.name,
    processedSequence: String(status.position),
    ...(status.lastEventAt ? { eventTimestamp: status.lastEventAt.toISOString() } : {}),
    ...(status.updatedAt ? { lastSuccessfulSpoolerRun: status.updatedAt.toISOString() } : {}),
    version: status.version,
    ...(status.generation ? { generation: status.generation } : {}),
    headSequence: String(status.head),
    lagEvents: String(status.lagEvents),
    lagSeconds: Math.round(status.lagSeconds * 1000) / 1000,
    state: status.failure ? 'VIEW_STATE_FAILED' : rebuild ? 'VIEW_STATE_REBUILDING' : 'VIEW_STATE_RUNNING',
    ...(status.failure ? { lastError: toViewError(status.failure) } : {}),
    ...(rebuild
      ? {
          rebuild: {
            generation: rebuild.generation,
            processedSequence: String(rebuild.position),
            ...(rebuild.lastEventAt ? { eventTimestamp: rebuild.lastEventAt.toISOString() } : {}),
            startedAt: rebuild.startedAt.toISOString(),
            ...(rebuild.failure ? { error: toViewError(rebuild.failure) } : {}),
          },
        }
      : {}),
  };
}

function toViewError(failure: ProjectionFailure): ViewError {
  return {
    message: failure.message,
    sequence: String(failure.position),
    ...(failure.eventType ? { eventType: failure.eventType } : {}),
    ...(failure.streamId ? { aggregateId: failure.streamId } : {}),
    failedAt: failure.at.toISOString(),
  };
}
