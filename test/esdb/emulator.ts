import { ChildProcess, spawn } from 'node:child_process';

/**
 * The EventStoreDB emulator as a process of its own (its protobuf classes are global, so it never
 * shares a process with our client). ESDB_EMULATOR names its emulator.mjs, in a copy whose
 * dependencies are installed; .ci/run sets it.
 */
export const EMULATOR_JS = process.env.ESDB_EMULATOR;

export interface RunningEmulator {
  port: number;
  connectionString: string;
  /** Everything it printed so far. */
  logs(): string;
  /** SIGKILL: gone at once, with everything it held. */
  kill(): Promise<void>;
}

const started: RunningEmulator[] = [];

/** Starts an emulator (on `port`, or a free one) and waits for its "listening" line. */
export async function startEmulator(port = 0): Promise<RunningEmulator> {
  if (!EMULATOR_JS) throw new Error('ESDB_EMULATOR is not set');
  const child: ChildProcess = spawn(process.execPath, [EMULATOR_JS, '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const bound = await new Promise<number>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`the emulator did not start within 10 s:\n${output}`)), 10_000);
    const onData = () => {
      const match = /listening (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        ready(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      fail(new Error(`the emulator exited before listening:\n${output}`));
    });
  });
  const emulator: RunningEmulator = {
    port: bound,
    connectionString: `esdb://127.0.0.1:${bound}?tls=false`,
    logs: () => output,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  started.push(emulator);
  return emulator;
}

export async function killEmulators(): Promise<void> {
  for (const emulator of started.splice(0)) await emulator.kill();
}
