import { RecordedEvent } from './event-store.port';

/** How many events a tail keeps: a busy commit's worth many times over, in little memory. */
const TAIL_EVENTS = 2048;

/**
 * The events a store committed last, in position order and without a gap: the read models and
 * subscribers read exactly these right after each commit, and get them from here instead of
 * querying and parsing them again. Emptied whenever a commit does not follow on from it (another
 * process or instance wrote in between), so it never hides an event.
 */
export class CommittedTail {
  private events: RecordedEvent[] = [];

  /** Keeps at most `capacity` events (and twice that between trims). */
  constructor(private readonly capacity = TAIL_EVENTS) {}

  /**
   * Events after `after` when the tail holds the very next one; null otherwise (the database
   * answers). It may answer fewer than exist: another process may have committed after the tail.
   */
  read(after: number, limit: number, eventTypes?: readonly string[]): RecordedEvent[] | null {
    const tail = this.events;
    if (tail.length === 0 || after < tail[0].position - 1 || after >= tail[tail.length - 1].position) return null;
    const events: RecordedEvent[] = [];
    for (let i = after + 1 - tail[0].position; i < tail.length && events.length < limit; i++) {
      if (!eventTypes || eventTypes.includes(tail[i].type)) events.push(tail[i]);
    }
    return events;
  }

  /** The events of one commit, in any order. */
  remember(committed: RecordedEvent[]): void {
    if (committed.length === 0) return;
    committed.sort((a, b) => a.position - b.position);
    // Only a run without a gap can be kept, and only its last `capacity` events.
    let from = committed.length - 1;
    while (from > 0 && committed[from - 1].position === committed[from].position - 1) from--;
    from = Math.max(from, committed.length - this.capacity);
    const last = this.events[this.events.length - 1];
    if (from > 0 || (last && committed[0].position !== last.position + 1)) this.events = [];
    for (let i = from; i < committed.length; i++) this.events.push(committed[i]);
    if (this.events.length > this.capacity * 2) this.events = this.events.slice(-this.capacity);
  }
}
