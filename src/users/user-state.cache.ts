import type { Details } from './read-models/details';
import type { UserState } from './user.state';

/**
 * A user's decided state as of one revision of its stream, with the id and details of the event
 * at that revision: only what a command needs, as the cache holds many of them.
 */
export interface CachedUser {
  state: UserState;
  revision: number;
  eventId: string;
  details: Details;
}

/**
 * The most recently used users' states, so that a command reads only the events after the cached
 * revision instead of the whole stream. Only ever a starting point: the runner still reads the
 * store from that revision on and appends with the revision it then knows, so a state cached here
 * can be old (another instance wrote since) but never wrong.
 */
export class UserStateCache {
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  private readonly entries = new Map<string, CachedUser>();

  constructor(private readonly capacity: number) {}

  get(userId: string): CachedUser | undefined {
    const entry = this.entries.get(userId);
    if (entry) {
      this.entries.delete(userId);
      this.entries.set(userId, entry);
    }
    return entry;
  }

  /** Keeps the newer of what is cached and `entry`: concurrent commands may finish in any order. */
  remember(userId: string, entry: CachedUser): void {
    const known = this.entries.get(userId);
    if (known && known.revision >= entry.revision) return;
    this.entries.delete(userId);
    this.entries.set(userId, entry);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  forget(userId: string): void {
    this.entries.delete(userId);
  }

  get size(): number {
    return this.entries.size;
  }
}
