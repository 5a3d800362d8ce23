/**
 * gRPC status codes, as ZITADEL answers them; the contract maps each to one HTTP status.
 * Kept free of Nest so the domain can throw these.
 */
export enum StatusCode {
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  UNAUTHENTICATED = 16,
}

export const HTTP_STATUS_OF: Readonly<Record<StatusCode, number>> = {
  [StatusCode.INVALID_ARGUMENT]: 400,
  // The HTTP port answers a request not received in time so (HTTP_REQUEST_TIMEOUT_MS).
  [StatusCode.DEADLINE_EXCEEDED]: 408,
  [StatusCode.NOT_FOUND]: 404,
  [StatusCode.ALREADY_EXISTS]: 409,
  [StatusCode.PERMISSION_DENIED]: 403,
  [StatusCode.RESOURCE_EXHAUSTED]: 429,
  [StatusCode.FAILED_PRECONDITION]: 400,
  [StatusCode.ABORTED]: 409,
  [StatusCode.UNIMPLEMENTED]: 501,
  [StatusCode.INTERNAL]: 500,
  [StatusCode.UNAVAILABLE]: 503,
  [StatusCode.UNAUTHENTICATED]: 401,
};

/**
 * A failure with its meaning: the status code, the text and (when the contract gives one) the
 * ZITADEL error id. Thrown once where the failure is known; rendered once, by the exception filter.
 */
export class ServiceError extends Error {
  constructor(
    readonly code: StatusCode,
    readonly text: string,
    readonly id?: string,
    private readonly options?: { cause?: unknown; httpStatus?: number },
  ) {
    super(id ? `${text} (${id})` : text, options);
    this.name = 'ServiceError';
  }

  /** The status the code maps to, unless the contract names another for this case. */
  get httpStatus(): number {
    return this.options?.httpStatus ?? HTTP_STATUS_OF[this.code];
  }
}
