// `npm run bench [-- options]` and `npm run bench -- replay [options]`. See BENCHMARKS.md.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BenchOptions, formatReport, runRemoveOtpEmailBench } from './remove-otp-email.bench';

const USAGE = `usage: npm run bench -- [options]
       npm run bench -- replay [options of the replay benchmark]

Seeds users with OTP Email, starts the service and a bare NestJS+Fastify endpoint as processes of
their own, drives each with autocannon from another process, and prints 2xx requests per second,
latency percentiles and the service's rate relative to the bare endpoint's.

  --duration S        seconds measured per phase (default 10)
  --warmup S          seconds of unmeasured load before each phase (default 2)
  --connections N     concurrent connections (default 64)
  --backend B         sqlite (default) or postgres
  --stream-length L   events in each user's stream before the measured command (default 10).
                      10: RemoveOTPEmail, each request on a user of its own.
                      Other (e.g. 10000): each connection turns OTP Email off and on again on
                      users of its own; the same load on 10-event streams is measured in the same
                      run, and the latencies compared.
  --users N           seeded users per measured set (default: enough for the duration with 10;
                      128 with a longer stream)
  --postgres-url URL  PostgreSQL server for --backend postgres (default
                      postgres://postgres@127.0.0.1:5432/postgres); a database of its own is made
                      and dropped after the run
  --service-cpu N     core the service and the bare endpoint are pinned to (default 0)
  --load-cpu N        core the load generator is pinned to (default 1)
  --no-pin            pin nothing (the service and the load generator share the cores)
  --compare NAME=V    measure again with the setting NAME=V, on a copy of the seeded store, and
                      report what the default gains over it (repeatable; e.g. APPEND_GROUP_MAX=1
                      turns group commit off, STATE_CACHE_SIZE=0 the kept states of long streams)
  --target-down       then measure RemoveOTPEmail in turns without Actions and with a target that
                      is down, called for every removal (3 short phases of each, users of their
                      own); checks the rate with it stays within 10 % of the rate without
  --cpu-prof DIR      write a CPU profile of the service into DIR
  --node-args="A B"   extra node options for the service process (e.g. --node-args="--max-semi-space-size=32")
  --json FILE         also write the whole report as JSON
  --keep              keep the data folder (and database) afterwards`;

function main(): number {
  const argv = process.argv.slice(2);
  if (argv[0] === 'replay') return replay(argv.slice(1));
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        duration: { type: 'string' },
        warmup: { type: 'string' },
        connections: { type: 'string' },
        backend: { type: 'string' },
        'stream-length': { type: 'string' },
        users: { type: 'string' },
        'postgres-url': { type: 'string' },
        'cpu-prof': { type: 'string' },
        'service-cpu': { type: 'string' },
        'load-cpu': { type: 'string' },
        'no-pin': { type: 'boolean' },
        'target-down': { type: 'boolean' },
        compare: { type: 'string', multiple: true },
        'node-args': { type: 'string' },
        json: { type: 'string' },
        keep: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.error(USAGE);
    return 0;
  }
  const number = (name: string, raw: string | undefined, fallback: number, min: number): number => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) throw new UsageError(`--${name} must be a number of at least ${min}, got "${raw}"`);
    return value;
  };
  let options: BenchOptions;
  try {
    const backend = values.backend ?? 'sqlite';
    if (backend !== 'sqlite' && backend !== 'postgres') throw new UsageError(`--backend must be sqlite or postgres, got "${backend}"`);
    options = {
      durationS: number('duration', values.duration, 10, 1),
      warmupS: number('warmup', values.warmup, 2, 0),
      connections: Math.floor(number('connections', values.connections, 64, 1)),
      backend,
      streamLength: Math.floor(number('stream-length', values['stream-length'], 10, 3)),
      users: values.users === undefined ? undefined : Math.floor(number('users', values.users, 0, 2)),
      postgresUrl: values['postgres-url'] ?? process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
      cpuProfDir: values['cpu-prof'],
      nodeArgs: values['node-args']?.split(' ').filter(Boolean) ?? [],
      keep: values.keep === true,
      targetDown: values['target-down'] === true,
      cpus: values['no-pin']
        ? null
        : {
            service: Math.floor(number('service-cpu', values['service-cpu'], 0, 0)),
            load: Math.floor(number('load-cpu', values['load-cpu'], 1, 0)),
          },
    };
    options.compare = (values.compare ?? []).map((setting) => {
      const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(setting);
      if (!match) throw new UsageError(`--compare takes NAME=VALUE, got "${setting}"`);
      return { name: match[1], value: match[2] };
    });
    if (options.cpus && options.cpus.service === options.cpus.load) {
      throw new UsageError('--service-cpu and --load-cpu must differ: each gets a core of its own');
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n${USAGE}`);
    return 2;
  }
  runRemoveOtpEmailBench(options).then(
    (report) => {
      console.log(formatReport(report));
      if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');
      process.exitCode = report.checks.every((c) => c.ok) ? 0 : 3;
    },
    (error: unknown) => {
      console.error(`benchmark failed: ${(error as Error).stack ?? String(error)}`);
      process.exitCode = 1;
    },
  );
  return -1;
}

/** The projections engineer's replay benchmark, when it is built. */
function replay(args: string[]): number {
  const script = join(__dirname, 'replay.bench.js');
  if (!existsSync(script)) {
    console.error(`the replay benchmark is not built: ${script} is missing (bench/replay.bench.ts)`);
    return 1;
  }
  return spawnSync(process.execPath, [script, ...args], { stdio: 'inherit' }).status ?? 1;
}

class UsageError extends Error {}

const code = main();
if (code >= 0) process.exitCode = code;
