import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { signDevToken } from '../../src/auth/token-verifier';
import { TestDatabase, createTestDatabase } from '../postgres/test-database';

/** The compiled service entry point (this file runs from dist/test/support). */
export const MAIN_JS = resolve(__dirname, '../../src/main.js');

export interface Response<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** Sent as is, instead of JSON.stringify(body). */
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface TokenOptions {
  sub: string;
  org?: string;
  /** Role name to the organizations it is granted in. */
  roles?: Record<string, string[]>;
  expiresIn?: string;
}

export interface RunningServer {
  url: string;
  port: number;
  /** gRPC over HTTP/2 cleartext (GRPC_PORT); Connect and gRPC-web are served on `url`. */
  grpcPort: number;
  grpcUrl: string;
  dataDir: string;
  /** The PostgreSQL database the server uses, when it uses one. */
  databaseUrl?: string;
  process: ChildProcess;
  /** Everything the server printed so far. */
  logs(): string;
  /** A development token the server accepts. */
  token(options: TokenOptions): Promise<string>;
  request<T = any>(method: string, path: string, options?: RequestOptions): Promise<Response<T>>;
  /** SIGTERM, and wait for the process to exit; resolves its exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, and wait for the process to be gone. */
  kill(): Promise<void>;
}

export interface StartOptions {
  /** Reuse a data folder (a restart); a fresh temporary one otherwise. */
  dataDir?: string;
  env?: Record<string, string | undefined>;
  /** How long to wait for the "listening" line. */
  timeoutMs?: number;
}

const started: RunningServer[] = [];
/**
 * With DATABASE_URL set for the test process, every server gets a fresh database on that server,
 * kept per data folder so that a restart (same dataDir) finds its data again.
 */
const databases = new Map<string, TestDatabase>();

async function databaseUrlFor(dataDir: string, env: StartOptions['env']): Promise<string | undefined> {
  if (env && 'DATABASE_URL' in env) return env.DATABASE_URL;
  if (!process.env.DATABASE_URL) return undefined;
  let database = databases.get(dataDir);
  if (!database) {
    database = await createTestDatabase(process.env.DATABASE_URL);
    databases.set(dataDir, database);
  }
  return database.url;
}

/** Starts the real server process on a free port and waits until it listens. */
export async function startServer(options: StartOptions = {}): Promise<RunningServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'mfa-test-'));
  const databaseUrl = await databaseUrlFor(dataDir, options.env);
  const child = spawn(process.execPath, [MAIN_JS], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: '0',
      GRPC_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      // The run's EventStoreDB (or emulator), when it has one; options.env may override or unset it.
      EVENTSTORE_CONNECTION_STRING: process.env.EVENTSTORE_CONNECTION_STRING,
      DATABASE_URL: databaseUrl,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));

  const port = await new Promise<number>((ready, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`server did not start within ${options.timeoutMs ?? 20000} ms:\n${output}`)),
      options.timeoutMs ?? 20000,
    );
    const onData = () => {
      const match = /listening on http:\/\/[^:]+:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        ready(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`server exited with code ${code} before listening:\n${output}`));
    });
  });

  // The server logs its gRPC port before the "listening on http://" line waited for above.
  const grpcPort = Number(/gRPC listening on \S+:(\d+)/.exec(output)?.[1] ?? NaN);
  const url = `http://127.0.0.1:${port}`;
  const server: RunningServer = {
    url,
    port,
    grpcPort,
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    dataDir,
    databaseUrl,
    process: child,
    logs: () => output,
    token: (o) => signDevToken(dataDir, o),
    request: (method, path, o = {}) => request(url, method, path, o),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  started.push(server);
  return server;
}

export async function request<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  { token, body, rawBody, headers = {} }: RequestOptions = {},
): Promise<Response<T>> {
  const init: RequestInit = { method, headers: { ...headers } };
  if (token) (init.headers as Record<string, string>).authorization = `Bearer ${token}`;
  if (rawBody !== undefined || body !== undefined) {
    init.body = rawBody ?? JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const response = await fetch(baseUrl + path, init);
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: leave the text
  }
  return { status: response.status, headers: response.headers, body: parsed as T, text };
}

/** Stops every server this process started and removes their temporary data folders. */
export async function stopAll(): Promise<void> {
  for (const server of started.splice(0)) {
    await server.kill();
    if (server.dataDir.startsWith(tmpdir())) rmSync(server.dataDir, { recursive: true, force: true });
  }
  for (const [dataDir, database] of [...databases]) {
    databases.delete(dataDir);
    await database.drop();
  }
}
