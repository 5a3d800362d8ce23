import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { Client } from 'pg';

/** The PostgreSQL server tests use: TEST_POSTGRES_URL, or the machine's own. */
export const TEST_POSTGRES_URL = process.env.TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

/** The same server, another database. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** True when a connection to `url` succeeds within a short while. */
export async function postgresReachable(url = TEST_POSTGRES_URL): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  /** Drops the database, disconnecting whoever is still connected. */
  drop(): Promise<void>;
}

async function onServer<T>(serverUrl: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A new, empty database `mfa_t_<random>` on the server of `serverUrl`, for one test run. */
export async function createTestDatabase(serverUrl = TEST_POSTGRES_URL): Promise<TestDatabase> {
  const name = `mfa_t_${randomBytes(6).toString('hex')}`;
  await onServer(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  let dropped = false;
  return {
    name,
    url: databaseUrl(serverUrl, name),
    async drop() {
      if (dropped) return;
      dropped = true;
      await onServer(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/**
 * For the top of an async describe: when PostgreSQL cannot serve this suite (`reason`, or the
 * server does not answer), declares one skipped test that says why, prints it, and returns true.
 */
export async function skippedWithoutPostgres(url = TEST_POSTGRES_URL, reason: string | null = null): Promise<boolean> {
  const why = reason ?? ((await postgresReachable(url)) ? null : `PostgreSQL not reachable at ${url} (set TEST_POSTGRES_URL)`);
  if (!why) return false;
  console.log(`# skipped: ${why}`);
  it(`skipped: ${why}`, { skip: true }, () => undefined);
  return true;
}
