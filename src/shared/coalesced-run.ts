/**
 * Runs a step so that calls made while it runs share that run: each marks one more run to do
 * once it ends, never a second concurrent one. Notifications that arrive in bursts (one per
 * commit) then cost one pass over whatever is new, not one pass each.
 */
export class CoalescedRun {
  private running: Promise<void> | null = null;
  private again = false;

  /** `mayRepeat` is asked before a marked run starts: false when stopping or waiting for a retry. */
  constructor(
    private readonly step: () => Promise<void>,
    private readonly mayRepeat: () => boolean,
  ) {}

  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.step();
      } while (this.again && this.mayRepeat());
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Resolves once the run under way, if any, has ended, whatever its outcome. */
  settled(): Promise<void> {
    return this.running?.then(() => undefined, () => undefined) ?? Promise.resolve();
  }
}
