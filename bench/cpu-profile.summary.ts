import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
}
interface CpuProfile {
  nodes: Array<{ id: number; callFrame: CallFrame; children?: number[] }>;
  samples: number[];
  timeDeltas: number[];
}

/**
 * Where the service's main thread spent a window of time, from a V8 CPU profile: each sample goes
 * to the first of these parts found on its stack (the deepest frame for the framework parts), so
 * the commit includes its wait for the disk and the subscriber everything it calls.
 */
const PARTS: Array<[string, (frame: CallFrame) => boolean]> = [
  ['subscriber (security notifications)', (f) => f.url.includes('/security-notifications/') || f.url.includes('/subscribers/')],
  ['group commit: events, inline views, COMMIT', (f) => f.functionName === 'commit' && /(sqlite|postgres)-store/.test(f.url)],
  ['stream read (load the user)', (f) => f.functionName === 'readStream'],
  ['request log line (pino)', (f) => f.url.includes('/pino') || f.url.includes('/logging/logger')],
  ['metrics (prom-client)', (f) => f.url.includes('prom-client') || f.functionName === 'observeRequest'],
  ['garbage collector', (f) => f.functionName === '(garbage collector)'],
  ['idle', (f) => f.functionName === '(idle)' || f.functionName === '(program)'],
];
const FRAMEWORK: Array<[string, (frame: CallFrame) => boolean]> = [
  ['our code: auth, command, rules', (f) => f.url.includes('/dist/src/')],
  ['PostgreSQL driver (pg)', (f) => /node_modules\/pg(-[a-z]+)?\//.test(f.url)],
  ['Nest, cqrs, rxjs', (f) => /@nestjs|rxjs|reflect-metadata|class-/.test(f.url)],
  ['Fastify', (f) => /fastify|find-my-way|avvio|light-my-request/.test(f.url)],
  ['node: http, sockets, promises', (f) => f.url.startsWith('node:')],
];

/** Shares of the last `windowS` seconds before `endGapS` seconds before the profile ends, in µs per request. */
export function summarizeCpuProfile(file: string, windowS: number, endGapS: number, requests: number): Array<{ part: string; share: number; usPerRequest: number }> {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const times: number[] = [];
  profile.timeDeltas.reduce((t, delta) => (times.push(t + delta), t + delta), 0);
  const end = times[times.length - 1] - endGapS * 1e6;
  const from = end - windowS * 1e6;
  const totals = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    if (times[i] < from || times[i] > end) return;
    const spent = profile.timeDeltas[i + 1] ?? 0;
    const frames: CallFrame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) frames.push(nodes.get(at)!.callFrame);
    const part =
      PARTS.find(([, test]) => frames.some(test))?.[0] ??
      frames.map((frame) => FRAMEWORK.find(([, test]) => test(frame))?.[0]).find(Boolean) ??
      'other (V8 builtins, native)';
    totals.set(part, (totals.get(part) ?? 0) + spent);
    total += spent;
  });
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .map(([part, us]) => ({ part, share: us / total, usPerRequest: us / requests }));
}
