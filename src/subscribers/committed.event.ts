import { IEvent } from '@nestjs/cqrs';
import { RecordedEvent } from '../event-store/event-store.port';

/**
 * An event that is durably in the log, as the subscription runner publishes it on the cqrs
 * EventBus. `@EventsHandler(CommittedEvent)` classes receive every committed event in global
 * order, at least once (a handler must be idempotent, e.g. by `event.position`), never an event
 * that was not appended. Nothing else publishes this class.
 */
export class CommittedEvent implements IEvent {
  constructor(readonly event: RecordedEvent) {}
}

/**
 * The same delivery, a batch at a time: `@EventsHandler(CommittedEvents)` classes receive the
 * committed events in consecutive batches, in global order, at least once. A subscriber that
 * writes somewhere does it once per batch (one transaction, one round trip) instead of once per
 * event, which is what keeps up with a busy log. A batch may hold a single event: after a handler
 * failed on a batch, its events are delivered one by one to find the one it fails on.
 */
export class CommittedEvents implements IEvent {
  constructor(readonly events: readonly RecordedEvent[]) {}
}
