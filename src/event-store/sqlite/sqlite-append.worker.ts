// The embedded event store's writer thread. A durable commit waits for fsync, which takes from a
// fraction of a millisecond to several on a busy disk; done here, that wait no longer stops the
// service's event loop, which meanwhile serves requests and gathers the next batch.
import { parentPort, workerData } from 'node:worker_threads';
import { AppendRequest, BatchOutcome, SqliteAppendWriter, openEventsDatabase } from './sqlite-append.writer';

export type WriterMessage = { id: number; batch: AppendRequest[] } | { close: true };
export type WriterReply = { id: number; outcome: BatchOutcome } | { opened: true } | { openFailed: string };

const port = parentPort!;
const { file } = workerData as { file: string };

let writer: SqliteAppendWriter;
let db: ReturnType<typeof openEventsDatabase>;
try {
  db = openEventsDatabase(file);
  writer = new SqliteAppendWriter(db);
  port.postMessage({ opened: true } satisfies WriterReply);
} catch (error) {
  port.postMessage({ openFailed: (error as Error).message } satisfies WriterReply);
  port.close();
}

port.on('message', (message: WriterMessage) => {
  if ('close' in message) {
    db.close();
    port.close();
    return;
  }
  port.postMessage({ id: message.id, outcome: writer.write(message.batch) } satisfies WriterReply);
});
