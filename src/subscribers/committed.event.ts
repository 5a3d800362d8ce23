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
