import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import type { Response, RunningServer } from '../../support/server';

/** The contract's error body (google.rpc.Status), and that its HTTP status follows its code. */
export const HTTP_OF_CODE: Readonly<Record<number, number[]>> = {
  3: [400],
  4: [408],
  5: [404],
  6: [409],
  7: [403],
  8: [429],
  9: [400],
  10: [409],
  12: [501, 405],
  13: [500],
  14: [503],
  16: [401],
};

export function assertContractError(response: Response, context = ''): void {
  const where = `${context} ${response.status} ${response.text.slice(0, 500)}`;
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, where);
  const body = response.body;
  assert.ok(body && typeof body === 'object' && !Array.isArray(body), where);
  assert.deepEqual(Object.keys(body).filter((k) => !['code', 'message', 'details'].includes(k)), [], where);
  assert.equal(typeof body.code, 'number', where);
  assert.equal(typeof body.message, 'string', where);
  assert.ok(HTTP_OF_CODE[body.code]?.includes(response.status), `HTTP status does not follow the code: ${where}`);
  if (body.details !== undefined) {
    assert.ok(Array.isArray(body.details) && body.details.length > 0, where);
    for (const detail of body.details) {
      assert.deepEqual(Object.keys(detail).sort(), ['@type', 'id', 'message'], where);
      assert.equal(detail['@type'], 'type.googleapis.com/zitadel.v1.ErrorDetail', where);
      assert.equal(typeof detail.id, 'string', where);
      assert.equal(typeof detail.message, 'string', where);
    }
  }
}

/** Reads the embedded store's file directly, read-only, as an operator would. */
export function openEventsReadOnly(dataDir: string): Database.Database {
  return new Database(join(dataDir, 'events.sqlite'), { readonly: true, fileMustExist: true });
}

/**
 * Suites that look into the embedded store's file run on it alone: they pin it (`EMBEDDED_STORE`
 * in startServer's env) and run once, in the pass of `npm test` without DATABASE_URL and
 * EVENTSTORE_CONNECTION_STRING, not again in CI's PostgreSQL and EventStoreDB passes.
 */
export const EMBEDDED_STORE = { DATABASE_URL: undefined, EVENTSTORE_CONNECTION_STRING: undefined };
export const EMBEDDED_STORE_PASS_ONLY = {
  skip:
    process.env.DATABASE_URL || process.env.EVENTSTORE_CONNECTION_STRING
      ? 'looks into the embedded store: runs in the pass without DATABASE_URL and EVENTSTORE_CONNECTION_STRING'
      : false,
};

/** Counts the events in a server's store, straight from the store (SQLite file or PostgreSQL). */
export interface EventCounter {
  count(): Promise<number>;
  close(): Promise<void>;
}

export async function eventCounter(server: RunningServer): Promise<EventCounter> {
  if (server.databaseUrl) {
    const client = new Client({ connectionString: server.databaseUrl });
    await client.connect();
    return {
      count: async () => Number((await client.query('SELECT COUNT(*) AS n FROM events')).rows[0].n),
      close: () => client.end(),
    };
  }
  const db = openEventsReadOnly(server.dataDir);
  return {
    count: async () => (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n,
    close: async () => void db.close(),
  };
}

/** One sample of a Prometheus text exposition; undefined when the series is absent. */
export function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The JSON log lines of a server's output. */
export function jsonLines(output: string): Array<Record<string, any>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, any>);
}
