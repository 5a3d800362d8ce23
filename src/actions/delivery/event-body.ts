import { createHmac } from 'node:crypto';
import type { RecordedEvent } from '../../event-store/event-store.port';

/** The header ZITADEL signs its calls to targets with. */
export const SIGNATURE_HEADER = 'ZITADEL-Signature';

/**
 * An event as ZITADEL POSTs it to a target (its EventExecution body): the user is the aggregate,
 * `sequence` counts the user's events from 1, and a payload-less event has no `event_payload`.
 */
export function eventBodyOf(event: RecordedEvent, instanceId: string): string {
  const dash = event.streamId.indexOf('-');
  return JSON.stringify({
    aggregateID: event.streamId.slice(dash + 1),
    aggregateType: event.streamId.slice(0, dash),
    resourceOwner: event.metadata.resourceOwner,
    instanceID: instanceId,
    version: 'v2',
    sequence: event.revision + 1,
    event_type: event.type,
    created_at: event.createdAt.toISOString(),
    userID: event.metadata.creator,
    ...(event.data !== null ? { event_payload: event.data } : {}),
  });
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, which ZITADEL's ValidatePayload checks. */
export function signatureOf(body: string, signingKey: string, at: Date): string {
  const t = Math.floor(at.getTime() / 1000);
  const v1 = createHmac('sha256', signingKey).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

/**
 * Wait before the next try after `attempts` failed ones: doubled each time from `initialMs` up to
 * `maxMs`, of which a random half is left out, so that deliveries failing together do not come
 * back together. `random` is in [0, 1).
 */
export function backoffMs(attempts: number, initialMs: number, maxMs: number, random: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempts - 1, 40));
  return Math.round(ceiling / 2 + (ceiling / 2) * random);
}
