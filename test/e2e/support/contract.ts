import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Response, RunningServer } from '../../support/server';

/**
 * What the HTTP suites share: the contract's error rows, written out (not taken from the code under
 * test), and small helpers to set up users. Everything here speaks HTTP only, except the guarded
 * look into the embedded store's file.
 */

export interface ContractError {
  status: number;
  code: number;
  id?: string;
  text: string;
}

export const ERR = {
  authHeaderMissing: { status: 401, code: 16, id: 'AUTH-7fs1e', text: 'auth header missing' },
  invalidToken: { status: 401, code: 16, id: 'AUTH-7fs1f', text: 'invalid token' },
  permissionDenied: { status: 403, code: 7, id: 'AUTH-AWfge', text: 'No matching permissions found' },
  userNotFound: { status: 404, code: 5, id: 'COMMAND-4g3xq', text: 'User could not be found' },
  otpEmailNotFound: { status: 404, code: 5, id: 'COMMAND-b312D', text: "Multifactor OTP (OneTimePassword) doesn't exist" },
  otpEmailAlreadySetUp: {
    status: 409,
    code: 6,
    id: 'COMMAND-MKL2s',
    text: 'Multifactor OTP (OneTimePassword) is already set up',
  },
  otpEmailNotReady: { status: 400, code: 9, id: 'COMMAND-KLJ2d', text: "Multifactor OTP (OneTimePassword) isn't ready" },
  userAlreadyExists: { status: 409, code: 6, id: 'COMMAND-k2unb', text: 'User already exists' },
  notFound: { status: 404, code: 5, text: 'Not Found' },
  methodNotAllowed: { status: 405, code: 12, text: 'Method Not Allowed' },
} as const satisfies Record<string, ContractError>;

/** The exact google.rpc.Status body of a contract error: message is text + " (" + id + ")". */
export function assertError(response: Response, expected: ContractError): void {
  const context = `${response.status} ${response.text}`;
  assert.equal(response.status, expected.status, context);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, context);
  const body = expected.id
    ? {
        code: expected.code,
        message: `${expected.text} (${expected.id})`,
        details: [{ '@type': 'type.googleapis.com/zitadel.v1.ErrorDetail', id: expected.id, message: expected.text }],
      }
    : { code: expected.code, message: expected.text };
  assert.deepEqual(response.body, body, context);
}

/** A 400 code 3 whose text is free but must name `field`; an id, when given, must be well-formed. */
export function assertInvalidArgument(response: Response, field: RegExp): void {
  const context = `${response.status} ${response.text}`;
  assert.equal(response.status, 400, context);
  assert.equal(response.body?.code, 3, context);
  assert.equal(typeof response.body.message, 'string', context);
  assert.match(response.body.message, field, context);
  assertContractShape(response);
}

/** Any error answer: a google.rpc.Status with a matching HTTP status and no internals. */
export function assertContractShape(response: Response): void {
  const context = `${response.status} ${response.text}`;
  const { body } = response;
  assert.equal(typeof body, 'object', context);
  assert.deepEqual(Object.keys(body).filter((key) => !['code', 'message', 'details'].includes(key)), [], context);
  assert.equal(typeof body.code, 'number', context);
  assert.equal(typeof body.message, 'string', context);
  assert.equal(response.status, HTTP_OF_CODE[body.code], context);
  assert.doesNotMatch(response.text, /\bat .+\(.+:\d+:\d+\)|node_modules|dist\//, context);
  if (body.details !== undefined) {
    assert.equal(body.details.length, 1, context);
    const [detail] = body.details;
    assert.equal(detail['@type'], 'type.googleapis.com/zitadel.v1.ErrorDetail', context);
    assert.equal(body.message, `${detail.message} (${detail.id})`, context);
  }
}

const HTTP_OF_CODE: Record<number, number> = { 3: 400, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 12: 501, 13: 500, 14: 503, 16: 401 };

export interface Details {
  sequence: string;
  changeDate: string;
  resourceOwner: string;
}

export const RFC3339_UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Details of a write: sequence and owner exact; changeDate RFC 3339 in UTC with milliseconds,
 * within the time the request took (the service and the test share a clock).
 */
export function assertDetails(
  details: Details,
  expected: { sequence: number; resourceOwner: string; between?: [number, number] },
): void {
  assert.deepEqual(Object.keys(details).sort(), ['changeDate', 'resourceOwner', 'sequence']);
  assert.equal(details.sequence, String(expected.sequence));
  assert.equal(details.resourceOwner, expected.resourceOwner);
  assert.match(details.changeDate, RFC3339_UTC_MS);
  if (expected.between) {
    const at = Date.parse(details.changeDate);
    const [from, to] = expected.between;
    // The event's time is taken in the service, in whole milliseconds.
    assert.ok(at >= from - 1 && at <= to + 1, `changeDate ${details.changeDate} not within the request (${new Date(from).toISOString()}..${new Date(to).toISOString()})`);
  }
}

/** A suffix that keeps ids, organizations and usernames of one run apart from any other run's. */
export const uniqueSuffix = (): string => randomBytes(4).toString('hex');

/** Times a call, for checking changeDate. */
export async function timed<T>(call: () => Promise<T>): Promise<{ result: T; between: [number, number] }> {
  const from = Date.now();
  const result = await call();
  return { result, between: [from, Date.now()] };
}

export interface NewUser {
  userId?: string;
  orgId?: string;
  username?: string;
  email?: string;
  isVerified?: boolean;
  givenName?: string;
  familyName?: string;
}

export function addHumanBody(user: NewUser): Record<string, unknown> {
  const suffix = uniqueSuffix();
  return {
    ...(user.userId !== undefined && { userId: user.userId }),
    ...(user.orgId !== undefined && { organization: { orgId: user.orgId } }),
    ...(user.username !== undefined && { username: user.username }),
    profile: { givenName: user.givenName ?? 'Minnie', familyName: user.familyName ?? 'Mouse' },
    email: { email: user.email ?? `minnie.${suffix}@example.com`, isVerified: user.isVerified ?? true },
  };
}

/** Creates a user and asserts the 200; resolves its id and the write's details. */
export async function createUser(
  server: RunningServer,
  token: string,
  user: NewUser = {},
): Promise<{ userId: string; details: Details }> {
  const response = await server.request('POST', '/v2/users/human', { token, body: addHumanBody(user) });
  assert.equal(response.status, 200, response.text);
  return response.body;
}

/** Runs `call` and asserts a 200, resolving the body. */
export async function ok<T = any>(call: Promise<Response<T>>): Promise<T> {
  const response = await call;
  assert.equal(response.status, 200, `${response.status} ${response.text}`);
  return response.body;
}

/**
 * The embedded SQLite store is used when the server said so at start. Only then may a suite look
 * into events.sqlite; on PostgreSQL or EventStoreDB those checks are skipped.
 */
export function usesEmbeddedStore(server: RunningServer): boolean {
  if (process.env.DATABASE_URL || process.env.EVENTSTORE_CONNECTION_STRING) return false;
  return /event store: SQLite/i.test(server.logs()) && existsSync(eventsFileOf(server));
}

export const eventsFileOf = (server: RunningServer): string => join(server.dataDir, 'events.sqlite');

export interface StoredEvent {
  position: number;
  streamId: string;
  revision: number;
  type: string;
  data: unknown;
  metadata: Record<string, unknown>;
  createdAt: number;
}

/** Reads the embedded store's events, read-only; the server must be stopped. */
export function readStoredEvents(server: RunningServer, where: { streamId?: string; type?: string } = {}): StoredEvent[] {
  const db = new Database(eventsFileOf(server), { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `SELECT position, stream_id, revision, type, data, metadata, created_at FROM events
         WHERE (@streamId IS NULL OR stream_id = @streamId) AND (@type IS NULL OR type = @type)
         ORDER BY position`,
      )
      .all({ streamId: where.streamId ?? null, type: where.type ?? null }) as Array<{
      position: number;
      stream_id: string;
      revision: number;
      type: string;
      data: string | null;
      metadata: string;
      created_at: number;
    }>;
    return rows.map((row) => ({
      position: row.position,
      streamId: row.stream_id,
      revision: row.revision,
      type: row.type,
      data: row.data === null ? null : JSON.parse(row.data),
      metadata: JSON.parse(row.metadata),
      createdAt: row.created_at,
    }));
  } finally {
    db.close();
  }
}

/** Strips terminal colours, so that log assertions read the text. */
export const plain = (logs: string): string => logs.replace(/\u001b\[[0-9;]*m/g, '');

export interface Endpoint {
  name: string;
  /** The request message named in a bad userId's text. */
  request: string;
  method: string;
  path: string;
  body?: unknown;
}

/** Every endpoint that acts on one user, with a body that is valid for it. */
export function userEndpoints(userId: string): Endpoint[] {
  const id = encodeURIComponent(userId);
  return [
    { name: 'RemoveOTPEmail', request: 'RemoveOTPEmailRequest', method: 'DELETE', path: `/v2/users/${id}/otp_email` },
    { name: 'AddOTPEmail', request: 'AddOTPEmailRequest', method: 'POST', path: `/v2/users/${id}/otp_email`, body: {} },
    {
      name: 'SetEmail',
      request: 'SetEmailRequest',
      method: 'POST',
      path: `/v2/users/${id}/email`,
      body: { email: 'changed@example.com', isVerified: false },
    },
    { name: 'DeleteUser', request: 'DeleteUserRequest', method: 'DELETE', path: `/v2/users/${id}` },
    { name: 'GetUserByID', request: 'GetUserByIDRequest', method: 'GET', path: `/v2/users/${id}` },
    {
      name: 'ListAuthenticationFactors',
      request: 'ListAuthenticationFactorsRequest',
      method: 'POST',
      path: `/v2/users/${id}/authentication_factors/_search`,
      body: {},
    },
  ];
}
