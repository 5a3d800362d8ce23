import { RecordedEvent } from '../event-store/event-store.port';

/** The JSON of one event on the stream: what an outside subscriber needs, in the API's conventions. */
export interface StreamedEvent {
  type: string;
  aggregateType: string;
  aggregateId: string;
  resourceOwner: string;
  /** The event's number in its aggregate's stream, from 1 (the `sequence` of `details`). */
  sequence: string;
  creationDate: string;
  creator: string;
  correlationId: string;
  /** Left out for events without one (the OTP Email events). */
  payload?: Record<string, unknown>;
}

export function streamedEventOf(event: RecordedEvent): StreamedEvent {
  const dash = event.streamId.indexOf('-');
  return {
    type: event.type,
    aggregateType: dash > 0 ? event.streamId.slice(0, dash) : event.streamId,
    aggregateId: dash > 0 ? event.streamId.slice(dash + 1) : event.streamId,
    resourceOwner: event.metadata.resourceOwner,
    sequence: String(event.revision + 1),
    creationDate: event.createdAt.toISOString(),
    creator: event.metadata.creator,
    correlationId: event.metadata.correlationId,
    ...(event.data !== null ? { payload: withoutSecrets(event.data) } : {}),
  };
}

/** An Actions target's signing key is answered once, by CreateTarget or UpdateTarget, and goes nowhere else. */
function withoutSecrets(data: Record<string, unknown>): Record<string, unknown> {
  if (!('signingKey' in data)) return data;
  const { signingKey: _secret, ...rest } = data;
  return rest;
}

/** A Server-Sent Events frame: `id` is the global position, so Last-Event-ID resumes right after it. */
export function frameOf(event: RecordedEvent): string {
  // A line break in the type would end the field early; event types have none, but a frame must not break.
  const type = event.type.replace(/[\r\n]/g, ' ');
  return `id: ${event.position}\nevent: ${type}\ndata: ${JSON.stringify(streamedEventOf(event))}\n\n`;
}

/**
 * The last frame of a stream whose token expired: `id` is where the stream got to (events the
 * filter skipped included), so a client that reconnects with it and a fresh token misses nothing.
 */
export function expiredFrame(position: number): string {
  const data = { code: 16, message: 'the token has expired: reconnect with a fresh one and Last-Event-ID' };
  return `id: ${position}\nevent: token-expired\ndata: ${JSON.stringify(data)}\n\n`;
}

/** A comment line: ignored by EventSource clients, it keeps an idle connection (and proxies) alive. */
export const HEARTBEAT_FRAME = ': heartbeat\n\n';
