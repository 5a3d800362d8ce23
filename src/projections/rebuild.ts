import { RecordedEvent } from '../event-store/event-store.port';
import { DocumentProjection, ProjectionFailure, ReadModelStore } from '../event-store/read-model.port';

/** A view's generation being rebuilt, and the position it has reached. */
export interface RebuildTarget {
  projection: DocumentProjection;
  generation: number;
  position: number;
}

export interface RebuildOutcome {
  projection: DocumentProjection;
  generation: number;
  /** switched: it caught up and answers reads; superseded: another rebuild replaced it; failed: evolve threw. */
  result: 'switched' | 'superseded' | 'failed';
  position: number;
  failure?: ProjectionFailure;
}

/**
 * One batch of the log for every rebuild still under way (read once for all of them); the ones
 * that ended leave `pending` and come back as outcomes. At the end of the log each tries to
 * switch; one whose active generation is still ahead stays pending and reads on.
 */
export async function rebuildBatch(
  readModels: ReadModelStore,
  pending: RebuildTarget[],
  batch: readonly RecordedEvent[],
  endOfLog: boolean,
): Promise<RebuildOutcome[]> {
  const ended: RebuildOutcome[] = [];
  for (const target of [...pending]) {
    const upTo = batch.length ? batch[batch.length - 1].position : target.position;
    if (target.position >= upTo && !endOfLog) continue;
    const step = await readModels.applyRebuild(target.projection, target.generation, batch, upTo, endOfLog);
    if (step !== 'superseded' && !step.failure && !step.switched) {
      target.position = step.position;
      continue;
    }
    pending.splice(pending.indexOf(target), 1);
    const { projection, generation } = target;
    if (step === 'superseded') ended.push({ projection, generation, result: 'superseded', position: target.position });
    else if (step.failure) ended.push({ projection, generation, result: 'failed', position: step.position, failure: step.failure });
    else ended.push({ projection, generation, result: 'switched', position: step.position });
  }
  return ended;
}

/** Where the next batch of the rebuilds under way starts. */
export const lowestOf = (pending: readonly RebuildTarget[]): number => Math.min(...pending.map((target) => target.position));
