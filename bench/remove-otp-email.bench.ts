import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { signDevToken } from '../src/auth/token-verifier';
import { loadConfig } from '../src/config/config';
import { openStores } from '../src/event-store/stores';
import { USER_PROJECTIONS } from '../src/users/read-models/user.projections';
import { summarizeCpuProfile } from './cpu-profile.summary';
import { DiskProbe, STALL_MS, probeDisk } from './disk.probe';
import { Latency, LoadResult, LoadSpec, LoadTarget } from './load.driver';
import { ListeningProcess, cpuMsOf, memoryOf, runJson, startListening } from './process.support';
import { seedUsers } from './seed-users.seeder';

export interface BenchOptions {
  durationS: number;
  connections: number;
  backend: 'sqlite' | 'postgres';
  /** Events in each user's stream before the measured command. */
  streamLength: number;
  /** Seeded users per measured set; a default that fits the mode when absent. */
  users?: number;
  warmupS: number;
  /** Server for `--backend postgres`; a database of its own is made in it and dropped after. */
  postgresUrl: string;
  /** Write a CPU profile of the service into this folder. */
  cpuProfDir?: string;
  /** Extra node options for the service process. */
  nodeArgs?: string[];
  /** Keep the data folder (and database) for inspection. */
  keep: boolean;
  /** Cores the service (and the bare endpoint) and the load generator are pinned to; none: not pinned. */
  cpus: { service: number; load: number } | null;
  /** Settings each measured again with, on a copy of the seeded store, after the default. */
  compare?: Array<{ name: string; value: string }>;
  /** Then RemoveOTPEmail in turns without Actions and with a target that is down, called for every removal. */
  targetDown?: boolean;
}

const DIST = resolve(__dirname, '..');
const MAIN_JS = join(DIST, 'src/main.js');

/**
 * The node options the service runs with in production (`npm run start:prod`, and the same in
 * `npm start` and the Dockerfile): the bench measures the service as it is deployed.
 */
function productionNodeArgs(): string[] {
  const packageJson = JSON.parse(readFileSync(join(DIST, '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const script = packageJson.scripts['start:prod'] ?? '';
  const match = /^node((?:\s+--\S+)*)\s+dist\/src\/main\.js$/.exec(script.trim());
  if (!match) throw new Error(`package.json's start:prod is not "node [--options] dist/src/main.js": ${script}`);
  return match[1].split(/\s+/).filter(Boolean);
}
const BARE_JS = join(DIST, 'bench/bare-endpoint.app.js');
const DRIVER_JS = join(DIST, 'bench/load.driver.js');
const ORG = 'bench-org';
/** Stream length of the sets measured as "short". */
const SHORT = 10;
/** Long enough to catch the stalls of a virtual disk that has them every second or two. */
const DISK_PROBE_S = 5;
/**
 * With 10-event streams each request takes a user of its own, so the users seeded bound the
 * requests measured. Seeding (and the service catching its read models up at start) is the slow
 * part of a run, so the number follows the bare endpoint's rate just measured: enough for the
 * service to run at this fraction of it for the whole phase. A faster service uses them all up
 * and its phase ends early, which the report says.
 */
const SEED_FOR_RATIO = 0.3;
const MIN_DISTINCT_USERS = 5_000;
const MAX_DISTINCT_USERS = 120_000;

/** The goals the service is held to on these machines (2 cores, one for the service, one for the load). */
const GOALS = {
  sqliteRatio: 0.25,
  sqliteP99Ms: 20,
  postgresRatio: 0.1,
  postgresP99Ms: 50,
  longOverShortLatency: 1.2,
  rssMb: 300,
};

export interface PhaseReport {
  name: string;
  result: LoadResult;
  /**
   * CPU time the measured process (all its threads) spent per 2xx answer, in ms. On a shared
   * machine it wanders less than the rate, but it wanders too.
   */
  cpuMsPerRequest: number;
}

export interface BenchReport {
  options: BenchOptions;
  /** The node options the service ran with (start:prod's, then --node-args). */
  serviceNodeArgs: string[];
  machine: { nproc: number; cpu: string; memoryGb: number; node: string; load: string };
  /** The data folder's disk, probed before anything else runs. */
  disk: DiskProbe | null;
  seeding: { users: number; events: number; seconds: number };
  serverStartS: number;
  phases: PhaseReport[];
  /** With --cpu-prof: where the service's main thread spent the measured phase. */
  profile?: Array<{ part: string; share: number; usPerRequest: number }>;
  memory: { peakRssMb: number; endRssMb: number } | null;
  checks: Array<{ goal: string; value: string; ok: boolean }>;
  notes: string[];
  /** Seconds each stage of the run took. */
  stages: Record<string, number>;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

export async function runRemoveOtpEmailBench(options: BenchOptions): Promise<BenchReport> {
  const long = options.streamLength !== SHORT;
  if (options.streamLength < 3) throw new Error('--stream-length must be at least 3');
  if (!long && options.users !== undefined && options.users < options.connections * 2) {
    throw new Error('--users must be at least twice --connections: each request takes a user of its own');
  }

  const dataDir = mkdtempSync(join(tmpdir(), 'mfa-bench-'));
  /** Data folders of the variants (--compare), removed with the run's. */
  const copies: string[] = [];
  const database = options.backend === 'postgres' ? await createDatabase(options.postgresUrl) : undefined;
  const env = {
    DATA_DIR: dataDir,
    DATABASE_URL: database?.url,
    PORT: '0',
    GRPC_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    NODE_ENV: 'development',
  };
  const report: BenchReport = {
    options,
    serviceNodeArgs: [...productionNodeArgs(), ...(options.nodeArgs ?? [])],
    machine: machine(),
    disk: null,
    seeding: { users: 0, events: 0, seconds: 0 },
    serverStartS: 0,
    phases: [],
    memory: null,
    checks: [],
    notes: [],
    stages: {},
  };
  const runStart = Date.now();
  let server: ListeningProcess | undefined;
  let bare: ListeningProcess | undefined;
  try {
    // 0. The disk, while the machine is quiet: its stalls are part of every durable write's latency.
    log(`disk: ${DISK_PROBE_S} s of small writes, each waiting for fdatasync, in ${dataDir}`);
    report.disk = probeDisk(dataDir, DISK_PROBE_S);
    report.stages.disk = DISK_PROBE_S;
    const bareAt = Date.now();
    // 1. The bare endpoint: the same framework in the same kind of process, measured in this run.
    bare = await startListening(BARE_JS, { PORT: '0', HOST: '127.0.0.1' }, join(dataDir, 'bare.log'), { cpu: options.cpus?.service });
    const fixed: LoadTarget = { kind: 'fixed', method: 'GET', path: '/bench/ping' };
    log(`bare endpoint: warm-up ${options.warmupS} s, then ${options.durationS} s`);
    await drive(bare.url, undefined, fixed, options, options.warmupS);
    report.phases.push(await measure(BARE_BEFORE, bare, () => drive(bare!.url, undefined, fixed, options)));
    report.stages['bare endpoint'] = (Date.now() - bareAt) / 1000;

    const bareRps = report.phases[0].result.rps;
    // The toggling load gives each connection users of its own, the same number each.
    const users = long
      ? roundUp(options.users ?? 128, options.connections)
      : (options.users ??
        Math.min(
          MAX_DISTINCT_USERS,
          Math.max(MIN_DISTINCT_USERS, Math.ceil(SEED_FOR_RATIO * bareRps * (options.durationS + options.warmupS) * 1.1)),
        ));
    const actionsUsers = Math.ceil(ACTIONS_SEED_FOR_RATIO * bareRps * actionsPhaseS(options) * 1.1);
    report.seeding.users = users + (options.targetDown ? actionsUsers * 2 * ACTIONS_ROUNDS : 0);

    // 2. Seed through the service's own EventStore port, before the service starts.
    const seedStart = Date.now();
    const stores = await openStores(loadConfig(env), USER_PROJECTIONS);
    const store = stores.events;
    try {
      if (!store.backend.toLowerCase().startsWith(options.backend === 'postgres' ? 'postg' : 'sqlite')) {
        throw new Error(`--backend ${options.backend} asked for, but this build stores events in ${store.backend}`);
      }
      const sets = long
        ? [
            { prefix: 'short-', count: users, streamLength: SHORT },
            { prefix: 'long-', count: users, streamLength: options.streamLength },
          ]
        : [
            { prefix: 'user-', count: users, streamLength: SHORT },
            ...(options.targetDown ? [{ prefix: 'act-', count: actionsUsers * 2 * ACTIONS_ROUNDS, streamLength: SHORT }] : []),
          ];
      for (const set of sets) {
        log(`seeding ${set.count} users with ${set.streamLength} events each (${options.backend})`);
        let shown = 0;
        await seedUsers(store, {
          ...set,
          orgId: ORG,
          progress: (done) => {
            if (done - shown >= set.count / 10 || done === set.count) {
              shown = done;
              log(`  ${done}/${set.count} users, ${Math.round((Date.now() - seedStart) / 1000)} s`);
            }
          },
        });
        report.seeding.events += set.count * set.streamLength;
      }
    } finally {
      await stores.close();
    }
    report.seeding.seconds = (Date.now() - seedStart) / 1000;
    report.stages.seeding = report.seeding.seconds;

    // 3. The service on the seeded store, and each variant on a copy of it made now.
    const variants = [{ label: '', env, dataDir }];
    for (const setting of options.compare ?? []) {
      const copy = { ...env, DATA_DIR: `${dataDir}-${variants.length}`, [setting.name]: setting.value };
      cpSync(dataDir, copy.DATA_DIR, { recursive: true });
      copies.push(copy.DATA_DIR);
      if (database) copy.DATABASE_URL = (await database.copy()).url;
      variants.push({ label: ` (${setting.name}=${setting.value})`, env: copy, dataDir: copy.DATA_DIR });
    }

    for (const variant of variants) {
      const startAt = Date.now();
      const nodeArgs = [
        ...report.serviceNodeArgs,
        ...(options.cpuProfDir && !variant.label ? ['--cpu-prof', `--cpu-prof-dir=${resolve(options.cpuProfDir)}`] : []),
      ];
      server = await startListening(MAIN_JS, variant.env, join(variant.dataDir, 'service.log'), {
        timeoutMs: 600_000,
        nodeArgs,
        cpu: options.cpus?.service,
      });
      if (!variant.label) report.serverStartS = (Date.now() - startAt) / 1000;
      report.stages[`service start${variant.label}`] = (Date.now() - startAt) / 1000;
      const phasesAt = Date.now();
      const pid = server.process.pid!;
      let peakRssMb = 0;
      const sampler = setInterval(() => (peakRssMb = Math.max(peakRssMb, memoryOf(pid)?.peakRssMb ?? 0)), 500);
      const token = await signDevToken(variant.dataDir, { sub: 'bench-admin', org: ORG, roles: { IAM_OWNER: [ORG] }, expiresIn: '4h' });
      // The subscribers start from the first event of the seeded history: measured is the steady
      // state, once every view and subscriber has caught up, as on a service that has been running.
      const caughtUpAt = Date.now();
      await caughtUp(server.url, token);
      report.stages[`subscribers catching up${variant.label}`] = (Date.now() - caughtUpAt) / 1000;
      try {
        if (long) {
          for (const [name, prefix] of [
            [`stream of ${SHORT}`, 'short-'],
            [`stream of ${options.streamLength}`, 'long-'],
          ]) {
            const target: LoadTarget = { kind: 'toggle', prefix, from: 0, count: users };
            // Twice per user in turn: each user's first command (which reads its whole stream) is
            // in the warm-up, not in the measured phase.
            log(`${name}${variant.label}: warm-up, 2 commands on each of ${users} users`);
            const warm = await drive(server.url, token, target, options, 0, users * 2);
            target.off = warm.off;
            log(`  first load of each user: ${warm.durationS.toFixed(1)} s for ${users * 2} commands`);
            report.phases.push({ name: `warm-up, ${name}${variant.label}`, result: warm, cpuMsPerRequest: NaN });
            // Then more, so that neither set is measured on a colder process than the other. A warm-up
            // that ended on time would leave commands in flight, and the toggling would lose track.
            target.off = (await drive(server.url, token, target, options, 0, users * 8)).off;
            log(`${name}${variant.label}: RemoveOTPEmail/AddOTPEmail for ${options.durationS} s`);
            const running = server;
            report.phases.push(await measure(`toggle OTP Email, ${name}${variant.label}`, running, () => drive(running.url, token, target, options)));
          }
        } else {
          log(`service${variant.label}: warm-up ${options.warmupS} s, then RemoveOTPEmail on distinct users for ${options.durationS} s`);
          // The warm-up's share of the users, in proportion to its time.
          const warmupUsers = Math.ceil((users * options.warmupS) / (options.warmupS + options.durationS));
          await drive(server.url, token, { kind: 'remove-distinct', prefix: 'user-', from: 0, count: warmupUsers }, options, options.warmupS);
          const target: LoadTarget = { kind: 'remove-distinct', prefix: 'user-', from: warmupUsers, count: users - warmupUsers };
          const running = server;
          const phase = await measure(`RemoveOTPEmail, distinct users${variant.label}`, running, () => drive(running.url, token, target, options));
          const { result } = phase;
          if (result.ok + result.non2xx >= target.count - options.connections) {
            report.notes.push(
              `all ${target.count} users seeded for the measured phase were used after ${result.durationS.toFixed(1)} s ` +
                `(of ${options.durationS}); pass --users to seed more`,
            );
          }
          report.phases.push(phase);
          if (options.targetDown && !variant.label) {
            await measureTargetDown(report, running, token, options, actionsUsers);
          }
        }
      } finally {
        report.stages[`service phases${variant.label}`] = (Date.now() - phasesAt) / 1000;
        clearInterval(sampler);
        const end = memoryOf(pid);
        if (!variant.label) report.memory = { peakRssMb: Math.max(peakRssMb, end?.peakRssMb ?? 0), endRssMb: end?.rssMb ?? NaN };
        await server.stop();
        server = undefined;
      }
    }
    // 4. The bare endpoint again: a shared machine's speed drifts over a run of minutes, and the
    // ratio is taken to the mean of the two.
    const againAt = Date.now();
    log(`bare endpoint again: ${options.durationS} s`);
    report.phases.push(await measure(BARE_AFTER, bare, () => drive(bare!.url, undefined, fixed, options)));
    report.stages['bare endpoint again'] = (Date.now() - againAt) / 1000;
    const [before, after] = [BARE_BEFORE, BARE_AFTER].map((name) => report.phases.find((p) => p.name === name)!.result.rps);
    if (Math.abs(after - before) > 0.2 * Math.min(before, after)) {
      report.notes.push(
        `the bare endpoint answered ${before.toFixed(0)} req/s before the service and ${after.toFixed(0)} after: ` +
          'the machine changed speed during the run; compare the ratios of several runs',
      );
    }
    if (options.cpuProfDir) {
      const measured = report.phases.find((p) => p.name.startsWith('RemoveOTPEmail') || p.name.startsWith('toggle OTP Email, stream of'))!;
      const file = readdirSync(options.cpuProfDir).filter((name) => name.endsWith('.cpuprofile')).sort().pop();
      // The profile ends when the service stops, just after its measured phase.
      if (file) report.profile = summarizeCpuProfile(join(options.cpuProfDir, file), measured.result.durationS - 1, 0.5, measured.result.ok);
    }
    report.stages.total = (Date.now() - runStart) / 1000;
    report.checks = checks(report);
    return report;
  } finally {
    await bare?.stop();
    await server?.stop();
    if (options.keep) {
      log(`kept: DATA_DIR=${dataDir}${database ? ` DATABASE_URL=${database.url}` : ''}`);
    } else {
      for (const dir of [dataDir, ...copies]) rmSync(dir, { recursive: true, force: true });
      await database?.drop();
    }
  }
}

const NO_TARGET = 'RemoveOTPEmail, no Actions target, turn ';
const TARGET_DOWN = 'RemoveOTPEmail, one Actions target down, turn ';
/** Phases of each kind, taking turns in one service process: the machine's speed drifts over minutes. */
const ACTIONS_ROUNDS = 3;
/** The service's rate is well below this share of the bare endpoint's; it bounds the users seeded per phase. */
const ACTIONS_SEED_FOR_RATIO = 0.2;
const actionsPhaseS = (options: BenchOptions) => Math.max(2, Math.round(options.durationS / 2));

/**
 * RemoveOTPEmail without a target and with one that is down, in turns on the running service, each
 * phase on users of its own (prefix act-). The target is deleted after its phase, which parks what
 * it had pending; the next turn makes a new one.
 */
async function measureTargetDown(report: BenchReport, server: ListeningProcess, token: string, options: BenchOptions, perPhase: number): Promise<void> {
  const phaseOptions = { ...options, durationS: actionsPhaseS(options) };
  let from = 0;
  for (let turn = 1; turn <= ACTIONS_ROUNDS; turn++) {
    for (const kind of [NO_TARGET, TARGET_DOWN]) {
      const targetId = kind === TARGET_DOWN ? await addTargetDown(server.url, token) : null;
      const target: LoadTarget = { kind: 'remove-distinct', prefix: 'act-', from, count: perPhase };
      from += perPhase;
      log(`${kind}${turn}: RemoveOTPEmail on distinct users for ${phaseOptions.durationS} s`);
      report.phases.push(await measure(`${kind}${turn}`, server, () => drive(server.url, token, target, phaseOptions)));
      if (targetId) await actionsCall(server.url, token, 'DELETE', `/v2beta/actions/targets/${targetId}`);
    }
  }
}

async function actionsCall(url: string, token: string, method: string, path: string, body?: unknown): Promise<{ id?: string }> {
  const response = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as { id?: string };
}

/**
 * An Actions target at an address where nothing listens (each try is refused at once), called for
 * every removal: the deliveries pile up in the outbox and are retried while the load runs.
 */
async function addTargetDown(url: string, token: string): Promise<string> {
  const closed = createServer();
  await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((done) => closed.close(done));
  const endpoint = `http://127.0.0.1:${port}/hook`;
  const { id } = await actionsCall(url, token, 'POST', '/v2beta/actions/targets', { name: `down ${port} ${Date.now()}`, endpoint, restAsync: {} });
  await actionsCall(url, token, 'PUT', '/v2beta/actions/executions', { condition: { event: { event: 'user.human.mfa.otp.email.removed' } }, targets: [id] });
  log(`  Actions target ${id} at ${endpoint} (nothing listens there), called for every removal`);
  return id!;
}

/** Waits until ListViews shows every view and subscription at the head of the log. */
async function caughtUp(url: string, token: string): Promise<void> {
  for (const deadline = Date.now() + 600_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
    const response = await fetch(`${url}/admin/v1/views/_search`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const { result = [] } = (await response.json()) as { result?: Array<{ lagEvents: string }> };
    if (response.ok && result.length > 0 && result.every((view) => view.lagEvents === '0')) return;
  }
  throw new Error('the views and subscribers did not catch up with the seeded log within 10 minutes');
}

async function measure(name: string, target: ListeningProcess, run: () => Promise<LoadResult>): Promise<PhaseReport> {
  const before = cpuMsOf(target.process.pid!);
  const result = await run();
  return { name, result, cpuMsPerRequest: (cpuMsOf(target.process.pid!) - before) / result.ok };
}

async function drive(
  url: string,
  token: string | undefined,
  target: LoadTarget,
  options: BenchOptions,
  durationS = options.durationS,
  amount?: number,
): Promise<LoadResult> {
  const spec: LoadSpec = { url, token, connections: options.connections, durationS, target, amount };
  const result = await runJson<LoadResult>(DRIVER_JS, spec, options.cpus?.load);
  // JSON has no NaN: the latencies of a phase without a single 2xx arrive as null.
  for (const key of Object.keys(result.latency) as Array<keyof Latency>) result.latency[key] ??= NaN;
  return result;
}

const BARE_BEFORE = 'bare endpoint';
const BARE_AFTER = 'bare endpoint, again after the service';
const bareMean = (report: BenchReport, of: (phase: PhaseReport) => number) => {
  const bare = report.phases.filter((p) => p.name === BARE_BEFORE || p.name === BARE_AFTER).map(of);
  return bare.reduce((sum, value) => sum + value, 0) / bare.length;
};
const bareCpu = (report: BenchReport) => bareMean(report, (p) => p.cpuMsPerRequest);
const mainCpu = (report: BenchReport) =>
  report.phases.find((p) => p.name.startsWith('RemoveOTPEmail') || p.name === `toggle OTP Email, stream of ${report.options.streamLength}`)!
    .cpuMsPerRequest;

function checks(report: BenchReport): BenchReport['checks'] {
  const { options, phases } = report;
  const find = (prefix: string) => phases.find((p) => p.name.startsWith(prefix))?.result;
  const out: BenchReport['checks'] = [];
  const bareRps = bareMean(report, (p) => p.result.rps);
  for (const phase of phases) {
    if (phase.result.non2xx || phase.result.errors) {
      out.push({
        goal: `${phase.name}: every request answers 2xx`,
        value: `${phase.result.non2xx} non-2xx (${JSON.stringify(phase.result.statusCodes)}), ${phase.result.errors} errors`,
        ok: false,
      });
    }
  }
  const main = find('RemoveOTPEmail') ?? find(`toggle OTP Email, stream of ${options.streamLength}`)!;
  const ratio = main.rps / bareRps;
  const goalRatio = options.backend === 'postgres' ? GOALS.postgresRatio : GOALS.sqliteRatio;
  out.push({
    goal: `rate >= ${goalRatio} x bare endpoint (mean of before and after: ${bareRps.toFixed(0)} req/s)`,
    value: `${ratio.toFixed(3)} (CPU time per request: bare / service = ${(bareCpu(report) / mainCpu(report)).toFixed(3)})`,
    ok: ratio >= goalRatio,
  });
  const goalP99 = options.backend === 'postgres' ? GOALS.postgresP99Ms : GOALS.sqliteP99Ms;
  out.push({ goal: `p99 <= ${goalP99} ms`, value: `${main.latency.p99.toFixed(1)} ms`, ok: main.latency.p99 <= goalP99 });
  const short = find(`toggle OTP Email, stream of ${SHORT}`);
  if (short && main !== short) {
    for (const p of ['p50', 'p99'] as const) {
      const r = main.latency[p] / short.latency[p];
      out.push({
        goal: `${p} latency, ${options.streamLength} events / ${SHORT} events <= ${GOALS.longOverShortLatency}`,
        value: r.toFixed(2),
        ok: r <= GOALS.longOverShortLatency,
      });
    }
  }
  for (const setting of options.compare ?? []) {
    const label = ` (${setting.name}=${setting.value})`;
    const variant = phases.find((p) => p.name === `${main === find('RemoveOTPEmail') ? 'RemoveOTPEmail, distinct users' : `toggle OTP Email, stream of ${options.streamLength}`}${label}`)?.result;
    if (!variant) continue;
    const gain = main.rps / variant.rps - 1;
    out.push({
      goal: `what the default gains over ${setting.name}=${setting.value}, measured in this run (a mechanism stays at >= 10 %)`,
      value: `${(gain * 100).toFixed(0)} % (${main.rps.toFixed(0)} against ${variant.rps.toFixed(0)} req/s; p99 ${main.latency.p99.toFixed(1)} against ${variant.latency.p99.toFixed(1)} ms)`,
      ok: gain >= 0.1,
    });
  }
  const [none, down] = [NO_TARGET, TARGET_DOWN].map((kind) => {
    const of = phases.filter((p) => p.name.startsWith(kind));
    const ok = of.reduce((sum, p) => sum + p.result.ok, 0);
    const seconds = of.reduce((sum, p) => sum + p.result.durationS, 0);
    return { count: of.length, rps: ok / seconds, cpu: of.reduce((sum, p) => sum + p.cpuMsPerRequest * p.result.ok, 0) / ok };
  });
  if (down.count > 0 && none.count > 0) {
    const ratio = down.rps / none.rps;
    out.push({
      goal: `RemoveOTPEmail's rate with an Actions target down (every removal delivered to it) within 10 % of no target, ${down.count} phases of each, taking turns`,
      value: `${ratio.toFixed(3)} (${down.rps.toFixed(0)} against ${none.rps.toFixed(0)} req/s; CPU ms/req ${down.cpu.toFixed(3)} against ${none.cpu.toFixed(3)})`,
      ok: ratio >= 0.9,
    });
  }
  if (report.memory) {
    out.push({
      goal: `service resident memory < ${GOALS.rssMb} MB (${report.seeding.events} events in the store)`,
      value: `peak ${report.memory.peakRssMb.toFixed(0)} MB`,
      ok: report.memory.peakRssMb < GOALS.rssMb,
    });
  }
  return out;
}

export function formatReport(report: BenchReport): string {
  const { options, machine: m } = report;
  const lines = [
    `mfa-service benchmark: backend ${options.backend}, stream length ${options.streamLength}, ` +
      `${options.connections} connections, ${options.durationS} s per phase; service: node ${report.serviceNodeArgs.join(' ')}`,
    `machine: ${m.nproc} cores (${m.cpu}), ${m.memoryGb.toFixed(0)} GB, node ${m.node}, load average ${m.load}`,
    options.cpus
      ? `pinned: the service and the bare endpoint to core ${options.cpus.service}, the load generator to core ${options.cpus.load} (taskset)`
      : 'not pinned: the service and the load generator share the cores',
    ...(report.disk ? [formatDisk(report.disk)] : []),
    `seeded ${report.seeding.users} users, ${report.seeding.events} events in ${report.seeding.seconds.toFixed(1)} s; ` +
      `service ready in ${report.serverStartS.toFixed(1)} s, its views and subscribers caught up in ${(report.stages['subscribers catching up'] ?? NaN).toFixed(1)} s more`,
    '',
    '| phase | req/s (2xx) | p50 ms | p90 ms | p99 ms | max ms | non-2xx | CPU ms/req |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const { name, result: r, cpuMsPerRequest: cpu } of report.phases) {
    lines.push(
      `| ${name} | ${r.rps.toFixed(0)} | ${r.latency.p50.toFixed(2)} | ${r.latency.p90.toFixed(2)} | ` +
        `${r.latency.p99.toFixed(2)} | ${r.latency.max.toFixed(1)} | ${r.non2xx + r.errors} | ${cpu.toFixed(3)} |`,
    );
  }
  if (report.profile) {
    lines.push('', 'where the service spent the measured phase (CPU profile of its main thread; µs per request include the profiler):', '');
    lines.push('| part | share | µs per request |', '|---|---:|---:|');
    for (const { part, share, usPerRequest } of report.profile) lines.push(`| ${part} | ${(share * 100).toFixed(1)} % | ${usPerRequest.toFixed(0)} |`);
  }
  if (report.memory) {
    lines.push('', `service memory: peak resident ${report.memory.peakRssMb.toFixed(0)} MB, at the end ${report.memory.endRssMb.toFixed(0)} MB`);
  }
  lines.push('', `stages: ${Object.entries(report.stages).map(([stage, s]) => `${stage} ${s.toFixed(0)} s`).join(', ')}`);
  for (const note of report.notes) lines.push(`note: ${note}`);
  lines.push('', 'goals:');
  for (const c of report.checks) lines.push(`  ${c.ok ? 'ok  ' : 'MISS'} ${c.goal}: ${c.value}`);
  return lines.join('\n');
}

function formatDisk(d: DiskProbe): string {
  return (
    `disk (data folder, idle): ${d.writes} writes of ${d.writeBytes / 1024} KiB with fdatasync in ${d.seconds} s, ` +
    `p50 ${d.p50Ms.toFixed(2)} ms, p99 ${d.p99Ms.toFixed(2)} ms, max ${d.maxMs.toFixed(1)} ms, ` +
    `${d.stalls} over ${STALL_MS} ms (each such stall holds every request in flight)`
  );
}

function machine(): BenchReport['machine'] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const os = require('node:os') as typeof import('node:os');
  return {
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: os.totalmem() / 2 ** 30,
    node: process.version,
    load: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

const roundUp = (n: number, step: number) => Math.ceil(n / step) * step;

interface BenchDatabase {
  url: string;
  /** A new database with this one's content (no one may be connected to this one meanwhile). */
  copy(): Promise<BenchDatabase>;
  drop(): Promise<void>;
}

async function createDatabase(serverUrl: string, template?: string): Promise<BenchDatabase> {
  const name = `mfa_bench_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const copies: BenchDatabase[] = [];
  return {
    url: url.toString(),
    async copy() {
      const copy = await createDatabase(serverUrl, name);
      copies.push(copy);
      return copy;
    },
    async drop() {
      for (const copy of copies) await copy.drop();
      const client = new Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
