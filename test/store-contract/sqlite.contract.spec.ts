import { eventStoreContract } from './event-store.contract';
import { inlineViewsContract } from './inline-views.contract';
import { readModelStoreContract } from './read-model-store.contract';
import { sqliteLocation, storeAt } from './store-openers';

eventStoreContract('sqlite', () => storeAt(sqliteLocation()));
readModelStoreContract('sqlite', () => storeAt(sqliteLocation()));
inlineViewsContract('sqlite', async () => sqliteLocation());
