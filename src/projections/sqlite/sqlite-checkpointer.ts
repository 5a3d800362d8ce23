import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CheckpointerMessage, CheckpointerReply, CheckpointerSettings } from './sqlite-checkpoint.worker';

/**
 * Runs the read models' WAL checkpoints on a thread of its own (see sqlite-checkpoint.worker).
 * The connection that commits must have its own checkpoints turned off; `onFailure` hears when
 * the thread stops for any reason but close(), so that connection can take them over again.
 */
export class SqliteCheckpointer {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  private closing = false;

  constructor(settings: CheckpointerSettings, onFailure: (message: string) => void) {
    this.worker = new Worker(join(__dirname, 'sqlite-checkpoint.worker.js'), {
      workerData: settings,
      resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 16 },
    });
    let failure: string | null = null;
    this.worker.on('message', (reply: CheckpointerReply) => (failure ??= reply.failed));
    this.worker.on('error', (error) => (failure ??= error.message));
    this.exited = new Promise((done) =>
      this.worker.once('exit', () => {
        if (!this.closing) onFailure(failure ?? 'the thread stopped');
        done();
      }),
    );
    // Checkpoints are housekeeping: they never hold the process open. (After the listeners: adding
    // a 'message' listener refs a worker again.)
    this.worker.unref();
  }

  /** Stops the thread after the checkpoint it may be running; resolves once its connection is closed. */
  async close(): Promise<void> {
    this.closing = true;
    // Held open until the thread has closed its connection, as a synchronous close would.
    this.worker.ref();
    this.worker.postMessage({ close: true } satisfies CheckpointerMessage);
    await this.exited;
  }
}
