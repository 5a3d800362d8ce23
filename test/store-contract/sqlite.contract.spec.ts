import { SqliteEventStore } from '../../src/event-store/sqlite/sqlite-event-store.adapter';
import { eventStoreContract } from './event-store.contract';
import { readModelStoreContract } from './read-model-store.contract';
import { openInTempFolder, openSqliteReadModels } from './store-openers';

eventStoreContract('sqlite', () => openInTempFolder('events.sqlite', (file) => new SqliteEventStore(file)));

readModelStoreContract('sqlite', openSqliteReadModels);
