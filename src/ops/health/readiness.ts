import type { ViewStatus } from '../../projections/view-status';

/** What readiness needs of a view. */
export type ViewReadiness = Pick<ViewStatus, 'name' | 'position' | 'failure'>;

export interface ProjectionReadiness {
  position: number;
  lag: number;
  /** Set when the projection stopped on an event; why is in the logs. */
  failed?: true;
}

export interface Readiness {
  /** What keeps the instance from taking traffic, as states anyone may read; empty when ready. */
  problems: string[];
  /** The same with the errors' texts, for the logs only. */
  details: string[];
  projections: Record<string, ProjectionReadiness>;
}

/**
 * Whether the read models can serve reads: every projection is running (none stopped on an event
 * it could not apply) and at most `maxLag` positions behind the head of the log.
 */
export function projectionReadiness(head: number, statuses: readonly ViewReadiness[], maxLag: number): Readiness {
  const readiness: Readiness = { problems: [], details: [], projections: {} };
  const problem = (text: string, detail = text) => (readiness.problems.push(text), readiness.details.push(detail));
  if (statuses.length === 0) problem('the projections have not started yet');
  for (const status of statuses) {
    const lag = Math.max(0, head - status.position);
    readiness.projections[status.name] = { position: status.position, lag, ...(status.failure ? { failed: true as const } : {}) };
    if (status.failure) {
      const stopped = `projection ${status.name} stopped after position ${status.position}`;
      problem(stopped, `${stopped}: ${status.failure.message}`);
    } else if (lag > maxLag) {
      problem(`projection ${status.name} is ${lag} events behind the log (READY_MAX_LAG_EVENTS is ${maxLag})`);
    }
  }
  return readiness;
}
