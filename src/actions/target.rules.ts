import { Errors } from '../errors/errors';
import { CONTROL_CHARACTERS } from '../shared/text';
import { ActionsState } from './actions.state';

/** Longest name and endpoint, as ZITADEL's validation has them. */
const MAX_LENGTH = 1000;
/** A target that answers after this long is given up on; ZITADEL accepts no more either. */
const MAX_TIMEOUT_MS = 3_600_000;

/** Protobuf reads a string that is absent as "": said as such, not as "too short". */
function required(field: string, value: string): void {
  if (value === '') throw Errors.invalidArgument(`invalid ${field}: is required`);
}

export function checkName(name: string): void {
  required('name', name);
  if (name.trim().length === 0 || name.length > MAX_LENGTH) {
    throw Errors.invalidArgument(`invalid name: must be 1 to ${MAX_LENGTH} characters`);
  }
  if (CONTROL_CHARACTERS.test(name)) throw Errors.invalidArgument('invalid name: must not contain control characters');
}

/** `http(s)://`, then a host: the URL parser would otherwise read `http:///x` as the host x. */
const SCHEME_AND_HOST = /^https?:\/\/[^/?#\s]/i;

/** Targets are called only at http(s) addresses an IAM owner wrote down, never anything else. */
export function checkEndpoint(endpoint: string): void {
  required('endpoint', endpoint);
  let url: URL | null = null;
  try {
    url = new URL(endpoint);
  } catch {
    url = null;
  }
  // The URL parser forgives blanks around it and drops control characters inside: what is stored
  // and shown must be what is called.
  const written = SCHEME_AND_HOST.test(endpoint) && !/[\s\u0000-\u001f\u007f]/.test(endpoint);
  if (!url || !written || !['http:', 'https:'].includes(url.protocol) || endpoint.length > MAX_LENGTH || url.username || url.password) {
    throw Errors.invalidArgument(
      'invalid endpoint: must be an http:// or https:// URL with a host, of at most 1000 characters, without credentials, blanks or control characters',
    );
  }
}

export function checkTimeout(timeoutMs: number): void {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS) {
    throw Errors.invalidArgument('invalid timeout: must be more than 0s and at most 3600s');
  }
}

/**
 * The request's own fields, checked before the caller's permission as the contract orders it
 * (caller, shape, permission, rules); the rules check them again, so that each stands alone.
 */
export function checkTargetFields(fields: { name?: string; endpoint?: string; timeoutMs?: number }): void {
  if (fields.name !== undefined) checkName(fields.name);
  if (fields.endpoint !== undefined) checkEndpoint(fields.endpoint);
  if (fields.timeoutMs !== undefined) checkTimeout(fields.timeoutMs);
}

export function checkNameFree(state: ActionsState, name: string, exceptId?: string): void {
  for (const target of state.targets.values()) {
    if (target.name === name && target.id !== exceptId) throw Errors.targetAlreadyExists();
  }
}
