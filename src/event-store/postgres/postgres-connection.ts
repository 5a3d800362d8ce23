import { Logger } from '@nestjs/common';
import { Pool, PoolClient, PoolConfig } from 'pg';
import { StoreUnavailableError } from '../event-store.port';

/**
 * Namespace (first key) of every advisory lock the service takes, so that its locks never meet
 * those of another application sharing the database.
 */
export const LOCK_NAMESPACE = 0x6d666173; // "mfas"

/** Second keys of the advisory locks, one per thing serialized. */
export const Locks = {
  /** Schema migrations: one instance migrates, the others wait and then see the result. */
  migrations: 1,
  /** Appends: positions are taken and committed one transaction at a time (see the adapter). */
  append: 2,
  /** Creating read model tables. */
  readModelTables: 3,
} as const;

export interface PostgresOptions {
  /** Connections in the pool. */
  poolSize?: number;
  /** Giving up on a new connection after this long turns into StoreUnavailableError. */
  connectTimeoutMs?: number;
  /** Server-side limit on one statement, waiting for a lock included. */
  statementTimeoutMs?: number;
}

const DEFAULTS: Required<PostgresOptions> = {
  poolSize: 10,
  connectTimeoutMs: 5000,
  statementTimeoutMs: 10000,
};

/** Connection settings of the pool. */
export function connectionConfig(url: string, options: PostgresOptions = {}): PoolConfig {
  const settings = { ...DEFAULTS, ...options };
  return {
    connectionString: url,
    application_name: 'mfa-service',
    max: settings.poolSize,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    statement_timeout: settings.statementTimeoutMs,
    // A request must not hang on a connection that went silent: the client gives up a little
    // after the server would have cancelled the statement.
    query_timeout: settings.statementTimeoutMs + 2000,
    // A process that dies inside a transaction must not keep its locks (the append lock above all).
    idle_in_transaction_session_timeout: settings.statementTimeoutMs * 2,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10000,
    idleTimeoutMillis: 30000,
  };
}

/** A pool whose broken idle connections are logged and replaced instead of crashing the process. */
export function createPool(url: string, purpose: string, options: PostgresOptions = {}): Pool {
  const pool = new Pool(connectionConfig(url, options));
  const logger = new Logger(purpose);
  pool.on('error', (error) => {
    logger.warn(`an idle PostgreSQL connection failed and is dropped: ${error.message}`);
  });
  // The pool listens for errors of idle connections only. A connection that breaks while checked
  // out (between two statements of a transaction) would emit an error nobody handles and end the
  // process; with this listener the next statement on it fails instead, as an outage, and the
  // connection is discarded when it is released with that error.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}

/** SQLSTATE classes that mean "the database cannot serve now", not "this request is wrong". */
const UNAVAILABLE_CLASSES = new Set([
  '08', // connection exception
  '40', // transaction rollback: serialization failure, deadlock
  '53', // insufficient resources: disk full, out of memory, too many connections
  '57', // operator intervention: admin shutdown (57P01), crash shutdown, statement timeout (57014)
  '58', // system error: I/O
  'XX', // internal error
]);
const UNAVAILABLE_STATES = new Set(['25006' /* read-only transaction: a standby after failover */, '55P03' /* lock not available */]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
]);
/** What the pg driver says, without a code, when a connection is lost or cannot be had. */
const DRIVER_MESSAGES =
  /Connection terminated|connection error|Query read timeout|timeout exceeded when trying to connect|timeout expired|not queryable|Cannot use a pool after calling end|Client was closed/i;

/** True when the failure is the database being unreachable or unable to serve, not a bug. */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return UNAVAILABLE_CLASSES.has(code.slice(0, 2));
  }
  if (error instanceof AggregateError) return error.errors.some(isUnavailable);
  return DRIVER_MESSAGES.test(error.message);
}

/** The driver's error in our terms when it means an outage; anything else is returned as is. */
export function toStoreError(error: unknown, doing: string): unknown {
  if (error instanceof StoreUnavailableError || !isUnavailable(error)) return error;
  const reason = (error as Error).message || (error as { code?: string }).code || String(error);
  return new StoreUnavailableError(`PostgreSQL is unavailable (${doing}): ${reason}`, { cause: error });
}

/**
 * Runs `work` in one transaction on one connection. A connection that failed is destroyed, not
 * returned to the pool, so the next caller gets a fresh one.
 */
export async function inTransaction<T>(pool: Pool, doing: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw toStoreError(error, doing);
  }
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    await rollback(client, error);
    throw toStoreError(error, doing);
  }
}

/** Ends a failed transaction: rolls back when the connection is sound, else throws it away. */
export async function rollback(client: PoolClient, cause: unknown): Promise<void> {
  if (isUnavailable(cause)) {
    client.release(cause instanceof Error ? cause : new Error(String(cause)));
    return;
  }
  try {
    await client.query('ROLLBACK');
    client.release();
  } catch (error) {
    client.release(error as Error);
  }
}

/** Plain query on the pool, with driver failures in our terms. */
export async function query<R extends object>(
  pool: Pool,
  doing: string,
  text: string,
  values?: unknown[],
): Promise<R[]> {
  try {
    return (await pool.query<R>(text, values)).rows;
  } catch (error) {
    throw toStoreError(error, doing);
  }
}

/** Where a connection string points, for messages: host, port and database, never the password. */
export function whereOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || 'localhost'}:${parsed.port || 5432}${parsed.pathname || '/'}`;
  } catch {
    return 'the configured PostgreSQL';
  }
}

/** Why a store could not be opened, as StoreUnavailableError naming the database. */
export function openFailure(error: unknown, what: string, url: string): StoreUnavailableError {
  const reason = error instanceof StoreUnavailableError ? error.message : (error as Error).message || String(error);
  return new StoreUnavailableError(`cannot open the ${what} in PostgreSQL at ${whereOf(url)}: ${reason}`, { cause: error });
}

/** A name made safe to put between double quotes in SQL. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
