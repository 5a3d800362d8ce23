// The read models' checkpointer thread. A checkpoint copies the WAL into the database file and
// fsyncs both. SQLite runs it in the connection that commits, which for the read models is the
// service's event loop: under load that stopped every request for 1-5 ms about every two seconds,
// and for as long as the disk stalls (up to 185 ms seen on these VMs). Here it stops nobody.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

export interface CheckpointerSettings {
  file: string;
  /** How often the WAL is copied into the database file. */
  intervalMs: number;
  /**
   * A WAL of this many pages is truncated. The checkpoints that do not wait copy every page, but
   * SQLite starts the WAL over only when a commit finds all of it copied, which a commit landing
   * during each checkpoint would prevent for good. Truncating waits for the commit under way and
   * holds the next one back while it runs: the one time the event loop can wait for a checkpoint.
   */
  truncatePages: number;
}

export type CheckpointerMessage = { close: true };
export type CheckpointerReply = { failed: string };

const port = parentPort!;
const { file, intervalMs, truncatePages } = workerData as CheckpointerSettings;

let db: Database.Database | undefined;
let timer: NodeJS.Timeout | undefined;
try {
  db = new Database(file);
  db.pragma('busy_timeout = 5000');
  timer = setInterval(checkpoint, intervalMs);
} catch (error) {
  fail(error);
}

function checkpoint(): void {
  try {
    const [{ log }] = db!.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    if (log >= truncatePages) db!.pragma('wal_checkpoint(TRUNCATE)');
  } catch (error) {
    fail(error);
  }
}

function fail(error: unknown): void {
  port.postMessage({ failed: (error as Error).message } satisfies CheckpointerReply);
  stop();
}

/** Ends the thread: no more checkpoints, the connection closed, the port closed. */
function stop(): void {
  clearInterval(timer);
  if (db?.open) db.close();
  port.close();
}

port.on('message', (_message: CheckpointerMessage) => stop());
