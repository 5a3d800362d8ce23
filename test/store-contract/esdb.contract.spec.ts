import { describe, it } from 'node:test';
import { EventStoreDbEventStore, targetOf } from '../../src/event-store/esdb/esdb-event-store.adapter';
import { eventStoreContract } from './event-store.contract';

/**
 * The contract on EventStoreDB, at EVENTSTORE_CONNECTION_STRING: a real server, or in CI the
 * emulator that .ci/run starts (it says which). The store is shared with the rest of the run; the
 * contract keeps to streams of its own.
 */
const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;

if (connectionString) {
  const against = process.env.ESDB_EMULATOR ? 'the EventStoreDB emulator, not a real server,' : 'EventStoreDB';
  console.log(`# EventStoreDB contract: against ${against} at ${targetOf(connectionString)}`);
  eventStoreContract('EventStoreDB', async () => {
    const store = new EventStoreDbEventStore(connectionString);
    return {
      store,
      another: async () => new EventStoreDbEventStore(connectionString),
      cleanup: () => store.close(),
    };
  });
} else {
  console.log('# EventStoreDB contract skipped: EVENTSTORE_CONNECTION_STRING is not set');
  describe('event store contract: EventStoreDB', () => {
    it('runs when EVENTSTORE_CONNECTION_STRING is set', { skip: 'EVENTSTORE_CONNECTION_STRING is not set' }, () => {});
  });
}
