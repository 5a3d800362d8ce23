import { ServiceError, StatusCode } from './service-error';

/** The contract's catalogue of errors: one factory per row of API.md's error table. */
export const Errors = {
  authHeaderMissing: () => new ServiceError(StatusCode.UNAUTHENTICATED, 'auth header missing', 'AUTH-7fs1e'),
  invalidToken: (cause?: unknown) =>
    new ServiceError(StatusCode.UNAUTHENTICATED, 'invalid token', 'AUTH-7fs1f', { cause }),
  /** The issuer's keys could not be fetched: no fault of the token, so not a 401. */
  keysUnavailable: (cause?: unknown) =>
    new ServiceError(
      StatusCode.UNAVAILABLE,
      'the keys to check the token could not be fetched; retry later',
      'AUTH-jwks1',
      { cause },
    ),
  permissionDenied: () =>
    new ServiceError(StatusCode.PERMISSION_DENIED, 'No matching permissions found', 'AUTH-AWfge'),
  userNotFound: () => new ServiceError(StatusCode.NOT_FOUND, 'User could not be found', 'COMMAND-4g3xq'),
  otpEmailNotFound: () =>
    new ServiceError(StatusCode.NOT_FOUND, "Multifactor OTP (OneTimePassword) doesn't exist", 'COMMAND-b312D'),
  otpEmailAlreadySetUp: () =>
    new ServiceError(StatusCode.ALREADY_EXISTS, 'Multifactor OTP (OneTimePassword) is already set up', 'COMMAND-MKL2s'),
  otpEmailNotReady: () =>
    new ServiceError(StatusCode.FAILED_PRECONDITION, "Multifactor OTP (OneTimePassword) isn't ready", 'COMMAND-KLJ2d'),
  userAlreadyExists: () => new ServiceError(StatusCode.ALREADY_EXISTS, 'User already exists', 'COMMAND-k2unb'),
  /** The user's stream kept changing under us for every retry we allow. */
  concurrentModification: () =>
    new ServiceError(
      StatusCode.ABORTED,
      'the user was changed concurrently too often; retry the request',
      'COMMAND-cOnCr',
    ),
  storeUnavailable: (cause?: unknown) =>
    new ServiceError(
      StatusCode.UNAVAILABLE,
      'the event store is unavailable; nothing was changed, retry later',
      'STORE-unav1',
      { cause },
    ),
  /** More requests of one caller in a minute than RATE_LIMIT_PER_MINUTE, on any port. */
  tooManyRequests: () => new ServiceError(StatusCode.RESOURCE_EXHAUSTED, 'too many requests; slow down'),
  /** More event streams than EVENTS_STREAM_MAX_PER_CALLER or EVENTS_STREAM_MAX would be open. */
  tooManyStreams: (limit: string) =>
    new ServiceError(StatusCode.RESOURCE_EXHAUSTED, `too many open event streams (${limit}); close one or retry later`, 'EVENTS-l1m1t'),
  /** /readyz: this instance should get no traffic until the reasons are gone. */
  notReady: (reasons: string) => new ServiceError(StatusCode.UNAVAILABLE, `not ready: ${reasons}`, 'HEALTH-r3ady'),
  /** ClearView of a database/view pair that ListViews does not show. */
  viewNotFound: () => new ServiceError(StatusCode.NOT_FOUND, 'View not found', 'ADMIN-v1ew0'),
  /** ClearView of a subscription: its handlers have effects outside the view, so it is never replayed. */
  viewNotClearable: () =>
    new ServiceError(
      StatusCode.FAILED_PRECONDITION,
      'View cannot be cleared: it is a subscription whose handlers act outside the service',
      'ADMIN-v1ew1',
    ),
  /** Actions v2: a target id that names no target (GetTarget, UpdateTarget, SetExecution). */
  targetNotFound: () => new ServiceError(StatusCode.NOT_FOUND, 'Target not found', 'ACTION-t4rg0'),
  /** Actions v2: target names are unique. */
  targetAlreadyExists: () => new ServiceError(StatusCode.ALREADY_EXISTS, 'Target already exists', 'ACTION-t4rg6'),
  /** Actions v2: this service calls targets for events only; the contract gives the text without an id. */
  onlyEventConditions: () => new ServiceError(StatusCode.INVALID_ARGUMENT, 'only event conditions are supported'),
  deliveryNotFound: () => new ServiceError(StatusCode.NOT_FOUND, 'Delivery not found', 'ACTION-d3l0'),
  deliveryNotParked: () =>
    new ServiceError(StatusCode.FAILED_PRECONDITION, 'Only a parked delivery can be redelivered', 'ACTION-d3l9'),
  deliveryTargetDeleted: () =>
    new ServiceError(StatusCode.FAILED_PRECONDITION, 'The target of this delivery was deleted: it cannot be redelivered', 'ACTION-d3l8'),
  invalidArgument: (text: string, id?: string) => new ServiceError(StatusCode.INVALID_ARGUMENT, text, id),
  notFound: () => new ServiceError(StatusCode.NOT_FOUND, 'Not Found'),
  methodNotAllowed: () =>
    new ServiceError(StatusCode.UNIMPLEMENTED, 'Method Not Allowed', undefined, { httpStatus: 405 }),
  internal: (cause?: unknown) => new ServiceError(StatusCode.INTERNAL, 'internal error', undefined, { cause }),
} as const;
