// The load of `npm run bench`, run as its own process so that it does not share an event loop with
// the server it measures. Takes a LoadSpec as JSON in argv[2], prints a LoadResult as JSON.
import { seededUserId } from './seed-users.seeder';

/** Which requests to send. */
export type LoadTarget =
  /** The same request every time (the bare endpoint). */
  | { kind: 'fixed'; method: 'GET' | 'POST' | 'DELETE'; path: string }
  /** RemoveOTPEmail, each request on the next seeded user that has not been used: no two on one user. */
  | { kind: 'remove-distinct'; prefix: string; from: number; count: number }
  /**
   * Each connection owns every connections-th seeded user and turns OTP Email off, then on again,
   * user after user: for streams too long to seed one per request. Every request is a one-event
   * write that answers 200, and no two connections touch the same user.
   */
  | {
      kind: 'toggle';
      prefix: string;
      from: number;
      count: number;
      /** Users whose OTP Email is off at the start (an earlier run's `off`). */
      off?: number[];
    };

export interface LoadSpec {
  url: string;
  token?: string;
  connections: number;
  durationS: number;
  /** Send exactly this many requests instead of running for durationS. */
  amount?: number;
  target: LoadTarget;
}

export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  /** Responses with a 2xx status. */
  ok: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  /** Seconds from the first request to the end. */
  durationS: number;
  /** 2xx responses per second. */
  rps: number;
  /** Of 2xx responses, in milliseconds. */
  latency: Latency;
  /** Toggling: the users whose OTP Email is off at the end. */
  off?: number[];
}

interface AutocannonRequest {
  method?: string;
  path?: string;
  body?: string;
  headers?: Record<string, string>;
  setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest;
  onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
}

interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
}

interface AutocannonInstance {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
}

type Autocannon = (
  options: Record<string, unknown>,
  done: (error: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;

// autocannon ships no types; this is the part of its API the driver uses.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as Autocannon;

function requestsOf(
  target: LoadTarget,
  connections: number,
): { requests: AutocannonRequest[]; limit?: number; final?: () => number[] } {
  switch (target.kind) {
    case 'fixed':
      return { requests: [{ method: target.method, path: target.path }] };
    case 'remove-distinct': {
      let next = target.from;
      const end = target.from + target.count;
      return {
        requests: [
          {
            method: 'DELETE',
            setupRequest(request) {
              const n = Math.min(next++, end - 1);
              return { ...request, path: `/v2/users/${seededUserId(target.prefix, n)}/otp_email` };
            },
          },
        ],
        // Room for the requests in flight when the limit is reached.
        limit: target.count - connections,
      };
    }
    case 'toggle': {
      // Whether each user has OTP Email now, as far as the answers tell; the seeded users start with it.
      const on = new Map<number, boolean>();
      for (let n = target.from; n < target.from + target.count; n++) on.set(n, !target.off?.includes(n));
      // Users with no request in flight, least recently answered first: every user gets its turn.
      const idle = [...on.keys()];
      return {
        requests: [
          {
            setupRequest(request, context) {
              const n = idle.shift();
              if (n === undefined) throw new Error('more requests in flight than users: seed more users');
              context.user = n;
              const path = `/v2/users/${seededUserId(target.prefix, n)}/otp_email`;
              return on.get(n)
                ? { ...request, method: 'DELETE', path }
                : { ...request, method: 'POST', path, body: '{}', headers: { ...request.headers, 'content-type': 'application/json' } };
            },
            onResponse(status, _body, context) {
              const n = context.user as number;
              const removing = on.get(n)!;
              // A 404 to a remove or a 409 to an add says what the state was: follow it.
              if (status === 200 || (removing && status === 404) || (!removing && status === 409)) on.set(n, !removing);
              idle.push(n);
            },
          },
        ],
        final: () => [...on].filter(([, has]) => !has).map(([n]) => n),
      };
    }
  }
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function run(spec: LoadSpec): Promise<LoadResult> {
  const { requests, limit, final } = requestsOf(spec.target, spec.connections);
  if (limit !== undefined && limit < spec.connections) {
    throw new Error(`${limit} requests are too few for ${spec.connections} connections: seed more users`);
  }
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  return new Promise((done, fail) => {
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: spec.durationS,
        amount: spec.amount,
        maxOverallRequests: limit,
        headers: spec.token ? { authorization: `Bearer ${spec.token}` } : {},
        requests,
        timeout: 30,
      },
      (error, result) => {
        if (error) return fail(error);
        const sorted = latencies.subarray(0, count).sort();
        let sum = 0;
        for (const ms of sorted) sum += ms;
        done({
          ok: count,
          non2xx: result.non2xx,
          statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count])),
          errors: result.errors,
          timeouts: result.timeouts,
          durationS: result.duration,
          rps: count / result.duration,
          off: final?.(),
          latency: {
            p50: percentile(sorted, 50),
            p90: percentile(sorted, 90),
            p99: percentile(sorted, 99),
            max: count ? sorted[count - 1] : NaN,
            mean: count ? sum / count : NaN,
          },
        });
      },
    );
    // autocannon keeps whole milliseconds; the figures here need tenths.
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status < 200 || status > 299) return;
      if (count === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[count++] = ms;
    });
  });
}

if (require.main === module) {
  run(JSON.parse(process.argv[2]) as LoadSpec).then(
    (result) => process.stdout.write(JSON.stringify(result) + '\n'),
    (error: unknown) => {
      console.error(`load driver failed: ${(error as Error).stack ?? String(error)}`);
      process.exit(1);
    },
  );
}
