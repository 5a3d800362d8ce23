import { DocumentProjection } from '../projections/read-model-store.port';

/** The name ListViews shows for the in-service subscription (database "subscriptions"). */
export const EVENT_BUS_SUBSCRIPTION = 'event_bus';

/**
 * The subscription's checkpoint lives in the read model store like a projection's; it has no
 * documents of its own. Kept apart from the runner so the CLI can read it without Nest.
 */
export const eventBusSubscription: DocumentProjection = {
  name: `subscription_${EVENT_BUS_SUBSCRIPTION}`,
  version: 1,
  eventTypes: [],
  documentId: () => null,
  evolve: (document) => document,
};
