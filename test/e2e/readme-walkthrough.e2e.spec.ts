import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RunningServer, startServer, stopAll } from '../support/server';

/** The sources, from dist/test/e2e where this file runs. */
const ROOT = resolve(__dirname, '../../..');

interface Step {
  command: string;
  /** The comment lines right under the command: what it prints, `...` standing for any text. */
  expected: string[];
}

/** The sections whose ```sh blocks are run, one after the other in one shell, as a reader would. */
const RUN_SECTIONS = ['## Walk-through', '## Actions: events POSTed to your endpoints'];

/**
 * The ```sh blocks of a README section, as steps. A command is one or more lines (a quote left
 * open continues it); the `# ` lines right under it are its output. Comment lines after a blank
 * line are prose.
 */
export function walkThroughSteps(readme: string, heading: string): Step[] {
  const start = readme.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `the README has a "${heading}" section`);
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const steps: Step[] = [];
  for (const [, block] of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    let current: Step | null = null;
    let open = '';
    for (const line of block.split('\n')) {
      if (open) {
        open += `\n${line}`;
        if (quotesBalanced(open)) {
          current!.command = open;
          open = '';
        }
      } else if (line.startsWith('#')) {
        if (current) current.expected.push(line.replace(/^# ?/, ''));
      } else if (line.trim() === '') {
        current = null;
      } else {
        current = { command: line, expected: [] };
        steps.push(current);
        if (!quotesBalanced(line)) open = line;
      }
    }
  }
  return steps;
}

function quotesBalanced(text: string): boolean {
  return (text.match(/'/g) ?? []).length % 2 === 0;
}

function matches(expected: string, actual: string): boolean {
  const pattern = expected
    .split('...')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*?');
  return new RegExp(`^${pattern}$`).test(actual);
}

// The walk-through starts from a fresh store, as `npm start` does; the EventStoreDB suites share one
// log between all the servers of a run.
const SHARED_LOG = process.env.EVENTSTORE_CONNECTION_STRING ? 'the EventStoreDB suites share one log; the walk-through needs a fresh store' : false;

describe("the README's walk-through, run as written", { skip: SHARED_LOG }, () => {
  let server: RunningServer;

  before(async () => {
    server = await startServer();
  });
  after(stopAll);

  it('prints what the README says it prints, in the walk-through and the Actions section, and logs the line it shows', async () => {
    const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
    const steps = RUN_SECTIONS.flatMap((heading) => walkThroughSteps(readme, heading));
    assert.ok(steps.length >= 14, `found only ${steps.length} steps`);
    assert.ok(steps.filter((step) => step.expected.length > 0).length >= 6, 'most steps show their output');
    // Each step's output between markers; the README's address is this server's.
    const script = steps
      .map((step, i) => `echo "@@step ${i}"\n${step.command.replaceAll('http://localhost:8080', server.url)}\necho`)
      .join('\n');
    const run = spawnSync('bash', ['-euo', 'pipefail', '-c', script], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: server.dataDir, DATABASE_URL: server.databaseUrl ?? '' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.status, 0, `the walk-through failed:\n${run.stdout}\n${run.stderr}`);
    const outputs = run.stdout.split(/^@@step \d+\n/m).slice(1);
    assert.equal(outputs.length, steps.length);
    steps.forEach((step, i) => {
      if (step.expected.length === 0) return;
      const actual = outputs[i].replace(/\n+$/, '').split('\n');
      const where = `step ${i}: ${step.command}\nexpected:\n${step.expected.join('\n')}\nactual:\n${actual.join('\n')}`;
      assert.equal(actual.length, step.expected.length, where);
      step.expected.forEach((line, j) => assert.ok(matches(line, actual[j]), where));
    });

    // The Actions section's log line: the failed try of the delivery the walk-through made.
    const shown = readme.match(/^(\{"level":"warn","context":"Actions",.*\})$/m)?.[1];
    assert.ok(shown, 'the README shows the log line of a failed try');
    const failedTry = () => server.logs().split('\n').find((line) => line.includes('"context":"Actions"') && line.includes('failed on try 1'));
    for (let waited = 0; !failedTry() && waited < 5000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
    const logged = failedTry();
    assert.ok(logged, `no failed try in the log:\n${server.logs().slice(-3000)}`);
    const fields = (line: string) => {
      const { level, context, msg } = JSON.parse(line) as Record<string, string>;
      return { level, context, msg };
    };
    const [want, got] = [fields(shown), fields(logged)];
    assert.equal(got.level, want.level);
    assert.equal(got.context, want.context);
    const pattern = want.msg.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/, '...').replace(/target \d+/, 'target ...').replace(/delivery \d+/, 'delivery ...');
    assert.ok(matches(pattern, got.msg), `the README's log line\n${want.msg}\nas logged\n${got.msg}`);
  });
});
