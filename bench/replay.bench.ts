// The replay benchmark: seeds a temporary DATA_DIR with user events, then times a full rebuild of
// every projection from the first event. `node dist/bench/replay.bench.js [--events N]`,
// `npm run bench:replay`, or `npm run bench -- replay`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteStore } from '../src/event-store/sqlite/sqlite-store.adapter';
import { RebuildOutcome, RebuildTarget, lowestOf, rebuildBatch } from '../src/projections/rebuild';
import { USER_PROJECTIONS as ALL_PROJECTIONS } from '../src/users/read-models/user.projections';
import { seedUserEvents, seedUserEventsIntoSqlite } from './user-events.seeder';

const USAGE = `usage: node dist/bench/replay.bench.js [--events N] [--batch N] [--data-dir DIR] [--keep] [--seed-through-port]
  --events    events to seed (default 1000000)
  --seed-through-port
              seed with appends through the EventStore port (minutes for a million events) instead of
              rows written straight into the embedded store's table (seconds)
  --batch     events per read and transaction while replaying (default 10000)
  --data-dir  use this folder (its events.sqlite is reused when it already holds enough events)
  --keep      keep the temporary folder (to point the service or the CLI at it)
Prints seeding time, then replays in a process of its own (so that its memory is the replay's
alone) and prints replay time, events per second (wall clock and per CPU second) and peak memory.`;

const MB = 1024 * 1024;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string' },
      batch: { type: 'string' },
      'data-dir': { type: 'string' },
      keep: { type: 'boolean' },
      'seed-through-port': { type: 'boolean' },
      'replay-only': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.error(USAGE);
    return 0;
  }
  const events = Number(values.events ?? 1_000_000);
  const batch = Number(values.batch ?? 10_000);
  if (!Number.isInteger(events) || events < 1 || !Number.isInteger(batch) || batch < 1) {
    console.error(`--events and --batch must be whole numbers of at least 1\n${USAGE}`);
    return 2;
  }
  if (values['replay-only']) {
    if (!values['data-dir']) throw new Error('--replay-only needs --data-dir');
    return replay(values['data-dir'], batch);
  }
  const dataDir = values['data-dir'] ?? mkdtempSync(join(tmpdir(), 'mfa-replay-bench-'));
  const temporary = values['data-dir'] === undefined && !values.keep;
  console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`data folder: ${dataDir}`);
  try {
    const file = join(dataDir, 'events.sqlite');
    let store = new SqliteStore(file);
    const present = await store.headPosition();
    if (present >= events) {
      console.log(`seeding skipped: the folder's log already holds ${present} events`);
    } else {
      if (present > 0) throw new Error(`${file} holds ${present} events, fewer than --events ${events}; use an empty folder`);
      const seeding = performance.now();
      let shown = 0;
      const progress = (written: number) => {
        if (written - shown >= 100_000 || written === events) {
          shown = written;
          process.stderr.write(`\rseeding: ${written} of ${events} events`);
        }
      };
      let seeded;
      if (values['seed-through-port']) {
        seeded = await seedUserEvents(store, events, { progress });
      } else {
        // The adapter made the file and its schema; the rows go in without it, and are read back through it below.
        await store.close();
        seeded = seedUserEventsIntoSqlite(file, events, { progress });
        store = new SqliteStore(file);
      }
      const seconds = (performance.now() - seeding) / 1000;
      process.stderr.write('\n');
      console.log(
        `seeded ${seeded.events} events of ${seeded.users} users in ${seconds.toFixed(1)} s (${rate(seeded.events, seconds)} events/s)` +
          (values['seed-through-port'] ? ' through the EventStore port' : ' straight into the SQLite file'),
      );
      await checkSeed(store, seeded.events);
    }
    await store.close();
    const child = spawnSync(
      process.execPath,
      [__filename, '--replay-only', '--data-dir', dataDir, '--batch', String(batch)],
      { stdio: 'inherit' },
    );
    return child.status ?? 1;
  } finally {
    if (temporary && existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
    else console.log(`kept ${dataDir}`);
  }
}

/** Rebuilds every projection of the folder's store from the first event, and prints how fast. */
async function replay(dataDir: string, batch: number): Promise<number> {
  const store = new SqliteStore(join(dataDir, 'events.sqlite'), { inline: ALL_PROJECTIONS });
  const readModels = store;
  const pending: RebuildTarget[] = [];
  for (const projection of ALL_PROJECTIONS) {
    await readModels.prepare(projection);
    pending.push({ projection, generation: await readModels.startRebuild(projection), position: 0 });
  }
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let peakRss = rssBefore;
  let peakHeap = process.memoryUsage().heapUsed;
  let read = 0;
  /** RSS at each tenth of the way, to show that memory stays flat whatever the length of the log. */
  const rssAlong: number[] = [];
  const head = await store.headPosition();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  let lastShown = started;
  const outcomes: RebuildOutcome[] = [];
  while (pending.length > 0) {
    const events = await store.readAll({ after: lowestOf(pending), limit: batch });
    outcomes.push(...(await rebuildBatch(readModels, pending, events, events.length < batch)));
    read += events.length;
    const position = events.length ? events[events.length - 1].position : head;
    const memory = process.memoryUsage();
    peakRss = Math.max(peakRss, memory.rss);
    peakHeap = Math.max(peakHeap, memory.heapUsed);
    while (head > 0 && position >= ((rssAlong.length + 1) * head) / 10) rssAlong.push(Math.round(memory.rss / MB));
    const now = performance.now();
    if (now - lastShown > 1000) {
      lastShown = now;
      process.stderr.write(`\rreplaying: ${position} of ${head} (${rate(read, (now - started) / 1000)} events/s, rss ${Math.round(memory.rss / MB)} MB)   `);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  process.stderr.write('\n');
  const switched = outcomes.filter((outcome) => outcome.result === 'switched');
  for (const outcome of outcomes) {
    const { total } = await readModels.list(outcome.projection, { offset: 0, limit: 0, descending: false });
    console.log(`  ${outcome.projection.name}: ${outcome.result} to generation ${outcome.generation} at position ${outcome.position}, ${total} documents`);
  }
  console.log(
    `replayed ${ALL_PROJECTIONS.length} projections over ${read} events in ${seconds.toFixed(2)} s: ` +
      `${rate(read, seconds)} events/s; rss ${Math.round(rssBefore / MB)} MB before, peak ${Math.round(peakRss / MB)} MB ` +
      `(heap peak ${Math.round(peakHeap / MB)} MB); load average now ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  console.log(`rss at each tenth of the replay (MB): ${rssAlong.join(' ')}`);
  // On a shared machine the wall-clock rate depends on what else runs; CPU time does much less.
  console.log(
    `CPU time of the replay: ${cpuSeconds.toFixed(1)} s, ${rate(read, cpuSeconds)} events per CPU second ` +
      `(${Math.round((cpuSeconds / seconds) * 100)}% of one core)`,
  );
  console.log(
    `peak RSS of the replay process: ${Math.round((process.resourceUsage().maxRSS * 1024) / MB)} MB`,
  );
  await store.close();
  return switched.length === outcomes.length ? 0 : 1;
}

/** The seeded log, as the adapter reads it: every position there, the first stream whole and in order. */
async function checkSeed(store: SqliteStore, events: number): Promise<void> {
  const head = await store.headPosition();
  if (head !== events) throw new Error(`the seeded log ends at position ${head}, not ${events}`);
  const [first] = await store.readAll({ after: 0, limit: 1 });
  const stream = await store.readStream(first.streamId);
  if (stream.events[0].type !== 'user.human.added' || stream.events.some((e, i) => e.revision !== i)) {
    throw new Error(`the seeded stream ${first.streamId} does not read back as a user's life`);
  }
}

function rate(count: number, seconds: number): string {
  return Math.round(count / Math.max(seconds, 0.001)).toLocaleString('en-US');
}

main().then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    console.error(`replay benchmark failed: ${(error as Error)?.stack ?? String(error)}`);
    process.exitCode = 1;
  },
);
