import { Inject, Injectable } from '@nestjs/common';
import type { Logger as Pino } from 'pino';
import { MetricsService } from '../metrics/metrics.service';

/** The root pino logger, as main.ts made it. */
export const ROOT_LOG = Symbol('RootLog');

/** A request as its log line and metrics tell it; `grpcStatus` for calls on the gRPC port, whose statusCode is the contract's HTTP equivalent. */
export interface RequestRecord {
  reqId: string;
  method: string;
  route: string;
  url: string;
  statusCode: number;
  ms: number;
  grpcStatus?: number;
  /** Why it was refused, when it was (a 401's reason): for the log only. */
  failure?: string;
}

/** The one log line and the metrics of a request, whichever port and protocol it came by, event streams included. */
@Injectable()
export class RequestRecorder {
  constructor(
    private readonly metrics: MetricsService,
    @Inject(ROOT_LOG) private readonly log: Pino,
  ) {}

  record({ reqId, method, route, url, statusCode, ms, grpcStatus, failure }: RequestRecord): void {
    this.metrics.observeRequest(method, route, statusCode, ms / 1000);
    // 501 answers a method we do not serve: the client's choice, not a failure of ours.
    this.log[statusCode >= 500 && statusCode !== 501 ? 'error' : 'info'](
      {
        reqId,
        method,
        route,
        path: loggablePath(url),
        statusCode,
        ...(grpcStatus !== undefined ? { grpcStatus } : {}),
        responseTimeMs: Math.round(ms * 10) / 10,
        ...(failure ? { failure } : {}),
      },
      'request completed',
    );
  }
}

/**
 * The path, for a log line: without the query (it may carry a token) and with any segment that
 * looks like an email address (a client may put one where an id belongs) blotted out.
 */
export function loggablePath(url: string): string {
  const path = url.split('?', 1)[0];
  return path
    .split('/')
    .map((segment) => (/@|%40/i.test(segment) ? '[redacted]' : segment))
    .join('/');
}
