// `npm run projections -- list` and `npm run projections -- replay <view>|all`: the views of the
// configured store (same environment as the service), and rebuilds of them that the running
// service keeps serving through. See README, "Projections and subscribers".
import { SingleBar } from 'cli-progress';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../src/config/config';
import { EventStore } from '../src/event-store/event-store.port';
import { ReadModelStore } from '../src/event-store/read-model.port';
import { openStores } from '../src/event-store/stores';
import { RebuildOutcome, RebuildTarget, lowestOf, rebuildBatch } from '../src/projections/rebuild';
import { ViewStatus, viewStatusOf } from '../src/projections/view-status';
import { SECURITY_NOTIFICATION_SUBSCRIBERS as SUBSCRIBERS } from '../src/security-notifications/security-notifications.module';
import { subscriberNameOf, subscriptionView } from '../src/subscribers/subscribers.service';
import { USER_PROJECTIONS as ALL_PROJECTIONS } from '../src/users/read-models/user.projections';

const USAGE = `usage: npm run projections -- list [--json]
       npm run projections -- replay <view>|all [--batch N]

  list      every view (projection) and the in-service subscription: generation, position, head of
            the log, lag in events and seconds, time of the last event, failure, rebuild under way
  replay    rebuilds a view (or all) from the first event into a new generation, with a progress
            bar, and switches reads over once it has caught up. The running service keeps answering
            from the current generation meanwhile and sees the switch by itself.
  --batch   events per transaction while replaying (default 5000; larger is faster but holds the
            store's write lock longer, delaying the service's own projection updates)
  --json    list as JSON

Uses the service's configuration (DATA_DIR, DATABASE_URL, ...). Views: ${ALL_PROJECTIONS.map((p) => p.name).join(', ')}.`;

const DEFAULT_BATCH = 5000;

class UsageError extends Error {}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    options: {
      batch: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    console.error(USAGE);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (command !== 'list' && command !== 'replay') throw new UsageError(command ? `unknown command "${command}"` : 'a command is needed');
  if (command === 'list' && rest.length > 0) throw new UsageError('list takes no view name');
  if (command === 'replay' && rest.length !== 1) throw new UsageError('replay needs one view name, or all');
  const batch = values.batch === undefined ? DEFAULT_BATCH : Number(values.batch);
  if (!Number.isInteger(batch) || batch < 1 || batch > 100_000) {
    throw new UsageError(`--batch must be a whole number from 1 to 100000, got "${values.batch}"`);
  }

  const stores = await openStores(loadConfig(), ALL_PROJECTIONS);
  try {
    const { events, readModels } = stores;
    return command === 'list' ? await list(events, readModels, values.json ?? false) : await replay(events, readModels, rest[0], batch);
  } finally {
    await stores.close();
  }
}

async function list(events: EventStore, readModels: ReadModelStore, json: boolean): Promise<number> {
  const head = await events.headPosition();
  const now = new Date();
  const views: ViewStatus[] = [];
  for (const projection of ALL_PROJECTIONS) views.push(await viewStatusOf(events, readModels, projection, now, head));
  for (const subscriber of SUBSCRIBERS) {
    const name = subscriberNameOf(subscriber);
    views.push({ ...(await viewStatusOf(events, readModels, subscriptionView(name), now, head)), name: `${name} (subscription)` });
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(views, null, 2)}\n`);
    return 0;
  }
  const rows = views.map((view) => [
    view.name,
    String(view.version),
    String(view.generation),
    String(view.position),
    String(view.head),
    String(view.lagEvents),
    view.lagSeconds.toFixed(1),
    view.lastEventAt?.toISOString() ?? '-',
    view.failure
      ? `FAILED at ${view.failure.position} (${view.failure.eventType}): ${view.failure.message}`
      : view.rebuild
        ? `rebuilding generation ${view.rebuild.generation}: ${view.rebuild.position} of ${view.head}` +
          (view.rebuild.failure ? `, stopped at ${view.rebuild.failure.position}: ${view.rebuild.failure.message}` : '')
        : 'running',
  ]);
  printTable(['VIEW', 'VERSION', 'GEN', 'POSITION', 'HEAD', 'LAG', 'LAG S', 'LAST EVENT', 'STATE'], rows);
  return 0;
}

async function replay(events: EventStore, readModels: ReadModelStore, name: string, batchSize: number): Promise<number> {
  const projections = name === 'all' ? ALL_PROJECTIONS : ALL_PROJECTIONS.filter((p) => p.name === name);
  if (projections.length === 0) {
    throw new UsageError(`no view named "${name}"; views: ${ALL_PROJECTIONS.map((p) => p.name).join(', ')}, or all`);
  }
  const targets = [];
  for (const projection of projections) {
    await readModels.prepare(projection);
    targets.push({ projection, generation: await readModels.startRebuild(projection) });
  }
  const label = projections.map((p) => p.name).join(', ');
  console.error(`replaying ${targets.map((t) => `${t.projection.name} into generation ${t.generation}`).join(', ')}`);

  let interrupted = false;
  const interrupt = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error('\nstopping after this batch (Ctrl-C again to quit at once)');
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);

  const bar = new SingleBar({
    format: `${label} |{bar}| {percentage}% | {value}/{total} events | {rate} events/s | ETA {eta_formatted}`,
    barCompleteChar: '\u2588',
    barIncompleteChar: '\u2591',
    hideCursor: true,
    etaBuffer: 50,
    // Also without a terminal (logs, CI), a line every few seconds.
    noTTYOutput: true,
    notTTYSchedule: 2000,
    stream: process.stderr,
  });
  const started = performance.now();
  bar.start(await events.headPosition(), 0, { rate: '-' });
  const outcomes: RebuildOutcome[] = [];
  const pending: RebuildTarget[] = targets.map((target) => ({ ...target, position: 0 }));
  let done = { position: 0, eventsRead: 0 };
  try {
    while (pending.length > 0 && !interrupted) {
      const batch = await events.readAll({ after: lowestOf(pending), limit: batchSize });
      outcomes.push(...(await rebuildBatch(readModels, pending, batch, batch.length < batchSize)));
      done = { position: batch.length ? batch[batch.length - 1].position : done.position, eventsRead: done.eventsRead + batch.length };
      const seconds = (performance.now() - started) / 1000;
      bar.setTotal(Math.max(done.position, bar.getTotal()));
      bar.update(done.position, { rate: seconds > 0 ? Math.round(done.eventsRead / seconds).toLocaleString('en-US') : '-' });
      // The embedded store answers without ever leaving the event loop: the bar's timer and Ctrl-C need a turn.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    bar.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  console.error(
    `read ${done.eventsRead.toLocaleString('en-US')} events in ${seconds.toFixed(1)} s ` +
      `(${Math.round(done.eventsRead / Math.max(seconds, 0.001)).toLocaleString('en-US')} events/s)`,
  );
  let failed = pending.length > 0;
  for (const { projection, generation, position } of pending) {
    console.error(
      `${projection.name} generation ${generation} stopped at position ${position}; the current generation keeps answering reads. ` +
        'The service resumes this rebuild at its next start; replay again to start over.',
    );
  }
  for (const outcome of outcomes) {
    const view = `${outcome.projection.name} generation ${outcome.generation}`;
    switch (outcome.result) {
      case 'switched':
        console.error(`${view} caught up at position ${outcome.position} and now answers reads`);
        break;
      case 'superseded':
        failed = true;
        console.error(`${view} was replaced by a newer rebuild (another replay or a ClearView); nothing switched here`);
        break;
      case 'failed':
        failed = true;
        console.error(
          `${view} cannot apply the event at position ${outcome.failure!.position} (${outcome.failure!.eventType} in ` +
            `${outcome.failure!.streamId}): ${outcome.failure!.message}. The current generation keeps answering reads.`,
        );
        break;
    }
  }
  return failed ? 1 : 0;
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ');
  process.stdout.write(`${[line(header), ...rows.map(line)].join('\n')}\n`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`${(error as Error).message}\n${USAGE}`);
      process.exitCode = 2;
    } else if (error instanceof ConfigError) {
      console.error(`invalid configuration: ${error.message}. Fix the variable and run again.`);
      process.exitCode = 78;
    } else {
      console.error(`projections: ${(error as Error)?.stack ?? String(error)}`);
      process.exitCode = 1;
    }
  },
);
