import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventStore } from '../../src/event-store/sqlite/sqlite-event-store.adapter';
import { eventStoreContract } from './event-store.contract';
import { openSqliteReadModels } from './read-model-openers';
import { readModelStoreContract } from './read-model-store.contract';

/** A temporary folder per opened store, removed by its cleanup. */
function tempFile(name: string): { file: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'mfa-contract-'));
  return { file: join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

eventStoreContract('sqlite', async () => {
  const { file, remove } = tempFile('events.sqlite');
  const store = new SqliteEventStore(file);
  return {
    store,
    another: async () => new SqliteEventStore(file),
    async cleanup() {
      await store.close();
      remove();
    },
  };
});

readModelStoreContract('sqlite', openSqliteReadModels);
