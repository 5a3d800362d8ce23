import { Errors } from '../errors/errors';
import { ActionsState } from './actions.state';

/** Longest name and endpoint, as ZITADEL's validation has them. */
const MAX_LENGTH = 1000;
/** A target that answers after this long is given up on; ZITADEL accepts no more either. */
const MAX_TIMEOUT_MS = 3_600_000;

export function checkName(name: string): void {
  if (name.trim().length === 0 || name.length > MAX_LENGTH) {
    throw Errors.invalidArgument(`invalid name: must be 1 to ${MAX_LENGTH} characters`);
  }
}

/** Targets are called only at http(s) addresses an IAM owner wrote down, never anything else. */
export function checkEndpoint(endpoint: string): void {
  let url: URL | null = null;
  try {
    url = new URL(endpoint);
  } catch {
    url = null;
  }
  if (!url || !['http:', 'https:'].includes(url.protocol) || endpoint.length > MAX_LENGTH || url.username || url.password) {
    throw Errors.invalidArgument('invalid endpoint: must be an http:// or https:// URL of at most 1000 characters, without credentials');
  }
}

export function checkTimeout(timeoutMs: number): void {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS) {
    throw Errors.invalidArgument('invalid timeout: must be more than 0s and at most 3600s');
  }
}

export function checkNameFree(state: ActionsState, name: string, exceptId?: string): void {
  for (const target of state.targets.values()) {
    if (target.name === name && target.id !== exceptId) throw Errors.targetAlreadyExists();
  }
}
