import { IEvent } from '@nestjs/cqrs';
import { RecordedEvent } from '../event-store/event-store.port';

/**
 * Committed events, a batch at a time: an `@EventsHandler(CommittedEvents)` provider is a
 * subscriber. It gets every event that is durably in the log, in global order, at least once (it
 * must be idempotent, e.g. by `event.position`), and never an event that was not committed. Its
 * `handle` is awaited before its checkpoint moves; a batch it fails on is delivered again one
 * event at a time, to find the event, which is then retried until it passes.
 */
export class CommittedEvents implements IEvent {
  constructor(readonly events: readonly RecordedEvent[]) {}
}
