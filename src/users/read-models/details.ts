import { RecordedEvent } from '../../event-store/event-store.port';

/** ZITADEL's ObjectDetails as the REST API writes them. */
export interface Details {
  sequence: string;
  changeDate: string;
  resourceOwner: string;
}

/** Details of one event: `sequence` counts the events of the stream up to and including it. */
export const detailsOf = (event: Pick<RecordedEvent, 'revision' | 'createdAt' | 'metadata'>): Details => ({
  sequence: String(event.revision + 1),
  changeDate: event.createdAt.toISOString(),
  resourceOwner: event.metadata.resourceOwner,
});
