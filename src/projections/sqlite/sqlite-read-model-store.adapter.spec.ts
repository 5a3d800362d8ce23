import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { RecordedEvent } from '../../event-store/event-store.port';
import { DocumentProjection, tableOf } from '../read-model-store.port';
import { SqliteReadModelStore } from './sqlite-read-model-store.adapter';

/**
 * Where the embedded read-model store's WAL checkpoints run: never in the connection that commits
 * (the service's event loop), always in the checkpointer thread.
 */

const view: DocumentProjection<{ text: string }> = {
  name: 'checkpointed',
  version: 1,
  eventTypes: ['doc.written'],
  documentId: (event) => event.streamId,
  evolve: (_doc, event) => event.data as { text: string },
};

/** One event per document, each document about a page long. */
const events = (from: number, count: number): RecordedEvent[] =>
  Array.from({ length: count }, (_, i) => ({
    eventId: `event-${from + i}`,
    streamId: `doc-${from + i}`,
    revision: 0,
    position: from + i,
    type: 'doc.written',
    data: { text: 'x'.repeat(4000) },
    metadata: { resourceOwner: 'org-1', creator: 'user-1', correlationId: 'c' },
    createdAt: new Date(1718261075847),
  }));

/** Documents in the database file alone, as if its WAL were lost; null while the copy is unreadable. */
function documentsInFile(file: string, scratch: string): number | null {
  copyFileSync(file, scratch);
  const db = new Database(scratch);
  try {
    const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?").get(tableOf(view, 0));
    return table ? (db.prepare(`SELECT count(*) FROM "${tableOf(view, 0)}"`).pluck().get() as number) : 0;
  } catch {
    return null; // copied while the checkpointer was writing it
  } finally {
    db.close();
    rmSync(`${scratch}-wal`, { force: true });
    rmSync(`${scratch}-shm`, { force: true });
  }
}

async function until(what: string, done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 5000; !done(); await sleep(20)) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
  }
}

describe('SqliteReadModelStore checkpoints', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mfa-read-models-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('commits never checkpoint, even past the 1,000 pages at which SQLite would; close folds the WAL in', async () => {
    const file = join(dir, 'no-checkpoints.sqlite');
    const store = new SqliteReadModelStore(file, undefined, { intervalMs: 3_600_000, truncatePages: 1e9 });
    await store.prepare(view);
    for (let from = 1; from <= 1200; from += 100) await store.apply(view, events(from, 100), from + 99);

    assert.ok(statSync(`${file}-wal`).size > 1000 * 4096, 'the WAL holds more than 1,000 pages');
    assert.equal(documentsInFile(file, join(dir, 'copy-1.sqlite')), 0);

    await store.close();
    assert.equal(existsSync(`${file}-wal`), false);
    assert.equal(documentsInFile(file, join(dir, 'copy-2.sqlite')), 1200);
  });

  it('the checkpointer thread copies committed documents into the database file', async () => {
    const file = join(dir, 'checkpointed.sqlite');
    const store = new SqliteReadModelStore(file, undefined, { intervalMs: 20, truncatePages: 1e9 });
    await store.prepare(view);
    await store.apply(view, events(1, 10), 10);

    await until('the file holds the 10 documents', () => documentsInFile(file, join(dir, 'copy-3.sqlite')) === 10);
    await store.close();
  });

  it('a WAL that reaches the limit is truncated', async () => {
    const file = join(dir, 'truncated.sqlite');
    const store = new SqliteReadModelStore(file, undefined, { intervalMs: 20, truncatePages: 100 });
    await store.prepare(view);
    await store.apply(view, events(1, 300), 300);
    assert.ok(statSync(`${file}-wal`).size > 300 * 4096);

    await until('the WAL is empty', () => statSync(`${file}-wal`).size === 0);
    assert.equal((await store.get(view, 'doc-300'))?.text.length, 4000);
    await store.close();
  });
});
