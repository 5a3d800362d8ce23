import type { ViewStatus } from '../../projections/view-status';

/** What readiness needs of a view. */
export type ViewReadiness = Pick<ViewStatus, 'name' | 'position' | 'failure'>;

export interface ProjectionReadiness {
  position: number;
  lag: number;
  error?: string;
}

export interface Readiness {
  /** What keeps the instance from taking traffic, worded for an operator; empty when ready. */
  problems: string[];
  projections: Record<string, ProjectionReadiness>;
}

/**
 * Whether the read models can serve reads: every projection is running (none stopped on an event
 * it could not apply) and at most `maxLag` positions behind the head of the log.
 */
export function projectionReadiness(head: number, statuses: readonly ViewReadiness[], maxLag: number): Readiness {
  const problems: string[] = [];
  const projections: Record<string, ProjectionReadiness> = {};
  if (statuses.length === 0) problems.push('the projections have not started yet');
  for (const status of statuses) {
    const lag = Math.max(0, head - status.position);
    const error = status.failure?.message;
    projections[status.name] = { position: status.position, lag, ...(error ? { error } : {}) };
    if (error) {
      problems.push(`projection ${status.name} stopped after position ${status.position}: ${error}`);
    } else if (lag > maxLag) {
      problems.push(`projection ${status.name} is ${lag} events behind the log (READY_MAX_LAG_EVENTS is ${maxLag})`);
    }
  }
  return { problems, projections };
}
