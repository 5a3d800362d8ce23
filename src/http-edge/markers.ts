/**
 * Stands in for an empty path parameter (`/v2/users//otp_email`), so that such a request still
 * reaches its route and is rejected there with the endpoint's own 400, not a 404.
 */
export const EMPTY_PARAM = '\u0000';

/** Stands in for a body that was not valid JSON, so the 400 comes after the 401 check. */
export const MALFORMED_JSON = Symbol('malformed JSON');
export interface MalformedJson {
  [MALFORMED_JSON]: string;
}

export const isMalformedJson = (value: unknown): value is MalformedJson =>
  typeof value === 'object' && value !== null && MALFORMED_JSON in value;
