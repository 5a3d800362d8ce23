import { randomUUID } from 'node:crypto';

/** The header that names a request, in the logs, in the events it causes, and in every answer. */
export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * A caller's X-Request-Id is kept, so that its logs and our events correlate, when it is one
 * printable token of up to 128 characters (it goes into log lines and event metadata); otherwise,
 * or when none was sent, the request gets a new one.
 */
export function requestIdFrom(given: string | string[] | undefined): string {
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}
