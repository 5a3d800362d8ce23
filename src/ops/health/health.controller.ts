import { Controller, Get, Inject, Logger, Req, ServiceUnavailableException } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiOkResponse, ApiOperation, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { Public } from '../../auth/auth.guard';
import { Config } from '../../config/config';
import { CONFIG } from '../../config/config.module';
import { Errors } from '../../errors/errors';
import { EVENT_STORE, EventStore } from '../../event-store/event-store.port';
import { ProjectionsService } from '../../projections/projections.service';
import { HealthReport } from './health.schema';
import { RpcStatus } from '../../http-edge/rpc-status.schema';
import { ViewReadiness, projectionReadiness } from './readiness';

/** A store that takes longer than this to tell its head position counts as not answering. */
const STORE_TIMEOUT_MS = 2000;

/**
 * Probes for an orchestrator. Liveness says only that the process serves HTTP, so a slow store
 * never gets the process restarted; readiness says whether it can serve the API right now.
 */
@ApiTags('Operations')
@Controller()
export class HealthController {
  private readonly logger = new Logger('Health');
  private ready = true;

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly projections: ProjectionsService,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  @Get('healthz')
  @Public()
  @ApiOperation({
    operationId: 'Liveness',
    summary: 'Liveness probe',
    description: 'Answers 200 while the process serves HTTP. Needs no token.',
    security: [],
  })
  @ApiOkResponse({ description: 'The process is alive.', type: HealthReport })
  liveness() {
    return this.health.check([]);
  }

  @Get('readyz')
  @Public()
  @ApiOperation({
    operationId: 'Readiness',
    summary: 'Readiness probe',
    description:
      'Answers 200 when the event store answers and every projection is at most READY_MAX_LAG_EVENTS events ' +
      'behind the log and running; otherwise 503 with the reasons. Needs no token.',
    security: [],
  })
  @ApiOkResponse({ description: 'The instance can take traffic.', type: HealthReport })
  @ApiServiceUnavailableResponse({ description: 'The instance should get no traffic; the message says why.', type: RpcStatus })
  async readiness(@Req() request: FastifyRequest) {
    try {
      const report = await this.health.check([
        () =>
          this.indicators
            .check('eventStore')
            .attempt(async () => ({ backend: this.store.backend, head: await this.store.headPosition() }))
            .withTimeout(STORE_TIMEOUT_MS),
        async () => {
          const session = this.indicators.check('projections');
          let head: number;
          let views: ViewReadiness[];
          try {
            head = await within(STORE_TIMEOUT_MS, this.store.headPosition());
            views = await within(STORE_TIMEOUT_MS, this.projections.describe(head));
          } catch (error) {
            const problem = 'the lag of the projections is unknown while the store does not answer';
            return session.down({ problems: [problem], details: [`${problem}: ${(error as Error).message}`] });
          }
          const { problems, details, projections } = projectionReadiness(head, views, this.config.readyMaxLagEvents);
          return problems.length ? session.down({ problems, details, ...projections }) : session.up(projections);
        },
      ]);
      this.changed(request.id, true);
      return report;
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      // The answer names states; what the errors said goes to the log only.
      this.changed(request.id, false, reasonsOf(error.getResponse(), 'details'));
      throw Errors.notReady(reasonsOf(error.getResponse(), 'problems'));
    }
  }

  /** Logs when readiness changes, not on every probe, with the id of the probe that saw it. */
  private changed(reqId: string, ready: boolean, reasons = ''): void {
    if (ready === this.ready) return;
    this.ready = ready;
    if (ready) this.logger.log({ reqId, msg: 'ready again' });
    else this.logger.warn({ reqId, msg: `not ready: ${reasons}` });
  }
}

/** `answer`, unless it takes longer than `ms`: a store that hangs must not hang the probe. */
function within<T>(ms: number, answer: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([answer, late]).finally(() => clearTimeout(timer));
}

/** The reasons in terminus' report of a failed check, as one line: the states, or with `details` the errors' texts too. */
function reasonsOf(report: unknown, kind: 'problems' | 'details'): string {
  const failed = (report as { error?: Record<string, Record<string, unknown>> }).error ?? {};
  const reasons: string[] = [];
  for (const [name, result] of Object.entries(failed)) {
    const said = kind === 'details' ? `: ${String(result.message ?? 'no reason given')}` : '';
    if (Array.isArray(result[kind])) reasons.push(...(result[kind] as string[]));
    else if (name === 'eventStore') reasons.push(`the event store does not answer${said}`);
    else reasons.push(`${name} is down${said}`);
  }
  return reasons.length ? reasons.join('; ') : 'a health check failed';
}
