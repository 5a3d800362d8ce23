import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { AddressInfo, connect, createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ListeningProcess {
  url: string;
  process: ChildProcess;
  logs(): string;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

/**
 * Starts `node [nodeArgs] script` and waits for its "listening on http://host:port" line. Its
 * output goes to `logFile`, as a deployed service's would: a pipe that this process drains late
 * would hold the service back when it logs every request.
 */
export async function startListening(
  script: string,
  env: Record<string, string | undefined>,
  logFile: string,
  { timeoutMs = 60_000, nodeArgs = [] as string[], cpu }: { timeoutMs?: number; nodeArgs?: string[]; cpu?: number } = {},
): Promise<ListeningProcess> {
  const fd = openSync(logFile, 'a');
  const child = spawn(...onCpu(cpu, [...nodeArgs, script]), {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const logs = () => readFileSync(logFile, 'utf8');
  let exited = false;
  const exit = new Promise<void>((done) => child.once('exit', () => ((exited = true), done())));
  const until = Date.now() + timeoutMs;
  // A fixed port is known; port 0 is learnt from the line the process logs (at log level info).
  const fixed = env.PORT && env.PORT !== '0' ? `http://${env.HOST ?? '127.0.0.1'}:${env.PORT}` : undefined;
  let url: string | undefined;
  while (!url) {
    if (exited) throw new Error(`${script} exited before listening:\n${logs()}`);
    if (Date.now() > until) throw new Error(`${script} did not listen within ${timeoutMs} ms:\n${logs()}`);
    await sleep(100);
    url = fixed
      ? (await accepts(fixed)) ? fixed : undefined
      : /listening on (http:\/\/[^\s)"]+)/.exec(logs())?.[1]?.replace(/\/$/, '');
  }
  return {
    url,
    process: child,
    logs,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      await exit;
    },
  };
}

/** Runs `node script arg` to its end and parses what it printed on stdout as JSON. */
export function runJson<T>(script: string, arg: unknown, cpu?: number): Promise<T> {
  return new Promise((done, fail) => {
    const child = spawn(...onCpu(cpu, [script, JSON.stringify(arg)]), {
      env: process.env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (chunk) => (out += chunk));
    child.once('exit', (code) => {
      if (code !== 0) return fail(new Error(`${script} exited with code ${code}`));
      try {
        done(JSON.parse(out) as T);
      } catch (error) {
        fail(new Error(`${script} printed no JSON result: ${(error as Error).message}\n${out}`));
      }
    });
  });
}

export interface Memory {
  /** Resident set now, MB. */
  rssMb: number;
  /** Highest resident set so far, MB. */
  peakRssMb: number;
}

/**
 * `node args`, pinned to one core with taskset when `cpu` is given: the service and the load
 * generator each get a core of their own, as on separate machines. taskset execs node, so the
 * child's pid is node's.
 */
function onCpu(cpu: number | undefined, args: string[]): [string, string[]] {
  return cpu === undefined ? [process.execPath, args] : ['taskset', ['--cpu-list', String(cpu), process.execPath, ...args]];
}

/** Resident memory of a process, from /proc (Linux). */
export function memoryOf(pid: number): Memory | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** CPU time a process has used so far (all its threads, user and system), in milliseconds. */
export function cpuMsOf(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** USER_HZ; 100 on every Linux this runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** True once something accepts TCP connections at the URL's host and port. */
function accepts(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const socket = connect(Number(port), hostname, () => (socket.destroy(), done(true)));
    socket.once('error', () => done(false));
  });
}

/** A TCP port that is free now. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
}
