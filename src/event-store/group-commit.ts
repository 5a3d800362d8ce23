import { AppendResult, ExpectedRevision, NewEvent, StoreUnavailableError } from './event-store.port';

export interface AppendRequest {
  streamId: string;
  expected: ExpectedRevision;
  events: readonly NewEvent[];
}

/** What became of one append of a group: its result, or why it was refused. */
export type AppendOutcome = AppendResult | Error;

interface Pending extends AppendRequest {
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

/**
 * Group commit: the appends made in one turn of the event loop (and those that arrive while a
 * group is being committed) share one transaction and one wait for the disk. `commit` answers an
 * outcome per append, so one conflict fails only its own append; should it throw instead, each
 * append of the group is committed again alone, so that only a faulty one fails.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private committing: Promise<void> | null = null;
  private scheduled = false;

  constructor(
    private readonly commit: (group: readonly AppendRequest[]) => Promise<AppendOutcome[]>,
    private readonly maxGroup: number,
  ) {}

  append(request: AppendRequest): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ...request, resolve, reject });
      if (!this.scheduled && !this.committing) {
        this.scheduled = true;
        setImmediate(() => this.next());
      }
    });
  }

  /** Resolves once every append made so far is committed or failed. */
  async drain(): Promise<void> {
    while (this.committing || this.queue.length) await (this.committing ?? this.next());
  }

  private next(): Promise<void> {
    this.scheduled = false;
    if (this.committing || this.queue.length === 0) return this.committing ?? Promise.resolve();
    const group = this.queue.splice(0, this.maxGroup);
    this.committing = this.settle(group).finally(() => {
      this.committing = null;
      if (this.queue.length) void this.next();
    });
    return this.committing;
  }

  private async settle(group: Pending[]): Promise<void> {
    const outcomes = await this.outcomesOf(group);
    group.forEach((pending, i) => (outcomes[i] instanceof Error ? pending.reject(outcomes[i]) : pending.resolve(outcomes[i] as AppendResult)));
  }

  private async outcomesOf(group: readonly AppendRequest[]): Promise<AppendOutcome[]> {
    try {
      return await this.commit(group);
    } catch (error) {
      if (group.length === 1 || error instanceof StoreUnavailableError) {
        return group.map(() => (error instanceof Error ? error : new Error(String(error))));
      }
      const outcomes: AppendOutcome[] = [];
      for (const append of group) outcomes.push(...(await this.outcomesOf([append])));
      return outcomes;
    }
  }
}
