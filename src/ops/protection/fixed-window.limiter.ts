import type { Clock } from '../../shared/clock';

/**
 * At most `max` calls per key in each window, as @fastify/rate-limit counts them on the HTTP port:
 * the gRPC port, which Fastify does not serve, counts with this. All counts start again together
 * when a window ends, so memory holds only the keys of the current window.
 */
export class FixedWindowLimiter {
  private counts = new Map<string, number>();
  private windowEnds = 0;

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly clock: Clock,
  ) {}

  /** Counts a call of `key`; false when it is over the limit of this window. */
  take(key: string): boolean {
    const now = this.clock.now().getTime();
    if (now >= this.windowEnds) {
      this.counts = new Map();
      this.windowEnds = now + this.windowMs;
    }
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    return count <= this.max;
  }
}
