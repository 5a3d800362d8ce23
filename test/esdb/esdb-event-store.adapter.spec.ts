import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Server, Socket, connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { EventStoreDBClient, jsonEvent } from '@eventstore/db-client';
import { EventStoreDbEventStore, targetOf } from '../../src/event-store/esdb/esdb-event-store.adapter';
import { NewEvent, StoreUnavailableError } from '../../src/event-store/event-store.port';

/**
 * What the EventStoreDB adapter adds to the store contract: how it meets what others write to the
 * same database, and how it fails. Runs against EVENTSTORE_CONNECTION_STRING (in CI, the emulator).
 */
const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;
const run = randomUUID().slice(0, 8);
if (!connectionString) console.log('# EventStoreDB adapter tests against a store skipped: EVENTSTORE_CONNECTION_STRING is not set');

const event = (type = `adapter.tested${run}`, createdAt = new Date('2024-06-13T06:44:35.847Z')): NewEvent => ({
  eventId: randomUUID(),
  type,
  data: { n: 1 },
  metadata: { resourceOwner: 'org-1', creator: 'user-1', correlationId: randomUUID() },
  createdAt,
});

describe('EventStoreDB adapter: what others write to the same database', { skip: !connectionString }, () => {
  let store: EventStoreDbEventStore;
  let client: EventStoreDBClient;
  before(() => {
    store = new EventStoreDbEventStore(connectionString!);
    client = EventStoreDBClient.connectionString(connectionString!);
  });
  after(async () => {
    await store?.close();
    await client?.dispose();
  });

  it('keeps createdAt in the metadata as the command decided, and hides it from readers', async () => {
    const stream = `adapter${run}-created`;
    const given = event(undefined, new Date('2001-02-03T04:05:06.789Z'));
    await store.append(stream, 'no_stream', [given]);
    const [raw] = await collect(client.readStream(stream));
    assert.deepEqual(raw.event!.metadata, { ...given.metadata, createdAt: '2001-02-03T04:05:06.789Z' });
    const [read] = (await store.readStream(stream)).events;
    assert.deepEqual(read.metadata, given.metadata);
    assert.equal(read.createdAt.toISOString(), '2001-02-03T04:05:06.789Z');
  });

  it("takes the server's time for an event written without createdAt", async () => {
    const stream = `adapter${run}-foreign`;
    const before = Date.now();
    await client.appendToStream(stream, jsonEvent({ type: `adapter.foreign${run}`, data: { x: 1 }, metadata: { resourceOwner: 'o' } }));
    const [read] = (await store.readStream(stream)).events;
    assert.deepEqual(read.metadata, { resourceOwner: 'o' });
    assert.ok(Math.abs(read.createdAt.getTime() - before) < 60_000, `created ${read.createdAt.toISOString()}`);
  });

  it('never returns system events from readAll or as the head', async () => {
    const stream = `adapter${run}-system`;
    const appended = await store.append(stream, 'no_stream', [event()]);
    // Stream metadata is a $metadata event in the stream $$<stream>: a system event after ours.
    await client.setStreamMetadata(stream, { maxCount: 10 });
    assert.equal(await store.headPosition(), appended.position);
    const after = await store.readAll({ after: appended.position - 1, limit: 100 });
    assert.deepEqual(after, appended.events);
  });

  it('reads all across a long stretch of other writers\' events, page after page', async () => {
    const head = await store.headPosition();
    const written = [];
    for (let i = 0; i < 3; i++) {
      written.push(...(await store.append(`adapter${run}-long-${i}`, 'no_stream', Array.from({ length: 250 }, () => event()))).events);
    }
    const read = [];
    for (let after = head; ; ) {
      const page = await store.readAll({ after, limit: 100 });
      if (page.length === 0) break;
      read.push(...page);
      after = page[page.length - 1].position;
    }
    assert.deepEqual(read.filter((e) => e.streamId.startsWith(`adapter${run}-long-`)), written);
  });
});

describe('EventStoreDB adapter: a dropped subscription', { skip: !connectionString }, () => {
  it('resubscribes with growing delays and announces, one by one, the events written meanwhile', async () => {
    const target = /^esdb:\/\/([^:/?,@]+):(\d+)\?/.exec(connectionString!);
    if (!target) return void console.log('# skipped: needs a single-node esdb://host:port?... connection string');
    // The adapter talks to the store through a proxy that can cut every connection, as a network
    // failure or a node restart would, while the store keeps its events.
    const proxy = await startProxy(target[1], Number(target[2]));
    const logs: string[] = [];
    const logger = { log: (m: string) => logs.push(m), warn: (m: string) => logs.push(m) };
    const store = new EventStoreDbEventStore(`esdb://127.0.0.1:${proxy.port}?tls=false`, {
      logger,
      resubscribe: { initialMs: 50, maxMs: 400 },
    });
    const writer = EventStoreDBClient.connectionString(connectionString!);
    const heard: number[] = [];
    const until = async (what: string, condition: () => boolean) => {
      for (const started = Date.now(); !condition(); await sleep(20)) {
        if (Date.now() - started > 10_000) throw new Error(`timed out waiting for ${what}; logs:\n${logs.join('\n')}`);
      }
    };
    const write = async (name: string) => {
      const result = await writer.appendToStream(`adapter${run}-${name}`, jsonEvent({ type: `adapter.dropped${run}`, data: {} }));
      return Number(result.position!.commit);
    };
    try {
      store.onAppended((position) => heard.push(position));
      // Live first: another writer's event is announced through the subscription.
      let live = 0;
      await until('a live announcement', () => {
        if (heard.length === 0 && live++ % 25 === 0) void write('live');
        return heard.length > 0;
      });

      proxy.cut();
      await until('the drop to be logged', () => logs.some((m) => /dropped/.test(m)));
      const written = [await write('meanwhile-1'), await write('meanwhile-2'), await write('meanwhile-3')];
      await sleep(300); // let a few resubscriptions fail
      assert.ok(!written.some((p) => heard.includes(p)), 'nothing is announced while cut off');
      await proxy.restore();

      await until('the events written meanwhile to be announced', () => written.every((p) => heard.includes(p)));
      assert.ok(logs.some((m) => /resubscribed to \$all at 127\.0\.0\.1:\d+ after \d+ attempt/.test(m)), logs.join('\n'));
      const delays = logs.flatMap((m) => /resubscribing in (\d+) ms/.exec(m)?.[1] ?? []).map(Number);
      assert.ok(delays.length >= 2 && delays[1] > delays[0], `growing delays: ${delays.join(', ')}`);
    } finally {
      await store.close();
      await writer.dispose();
      await proxy.close();
    }
  });
});

describe('EventStoreDB adapter: an unreachable server', () => {
  it('fails reads and appends with StoreUnavailableError, naming the server but no password', async () => {
    const port = await freePort();
    const store = new EventStoreDbEventStore(`esdb://admin:secret@127.0.0.1:${port}?tls=false`);
    try {
      const failures = await Promise.allSettled([
        store.append(`adapter${run}-down`, 'no_stream', [event()]),
        store.readStream(`adapter${run}-down`),
        store.readAll({ after: 0, limit: 10 }),
        store.headPosition(),
      ]);
      for (const failure of failures) {
        assert.equal(failure.status, 'rejected');
        const reason = (failure as PromiseRejectedResult).reason as Error;
        assert.ok(reason instanceof StoreUnavailableError, String(reason));
        assert.match(reason.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
        assert.doesNotMatch(reason.message, /secret/);
      }
    } finally {
      await store.close();
    }
    await assert.rejects(store.readStream('any'), StoreUnavailableError);
  });

  it('names only the hosts of a connection string', () => {
    assert.equal(targetOf('esdb://admin:p%40ss@node1:2113,node2:2113?tls=false'), 'node1:2113,node2:2113');
    assert.equal(targetOf('esdb+discover://cluster.example.com:2113/?nodePreference=leader'), 'cluster.example.com:2113');
  });
});

async function collect<T>(readable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of readable) items.push(item);
  return items;
}

/** A TCP proxy to host:port whose connections can all be cut, and which can then accept again. */
async function startProxy(host: string, port: number) {
  const sockets = new Set<Socket>();
  let server: Server;
  const listen = (on: number) =>
    new Promise<number>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(port, host);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(on, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
  const bound = await listen(0);
  const cut = () => {
    server.close();
    for (const socket of sockets) socket.destroy();
  };
  return {
    port: bound,
    cut,
    restore: () => listen(bound),
    close: () => new Promise<void>((resolve) => (cut(), server.close(() => resolve()))),
  };
}

/** A port nothing listens on: bound, then released. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
