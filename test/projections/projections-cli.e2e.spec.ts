import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RunningServer, startServer, stopAll } from '../support/server';
import { SeededStore, seedSize, seededStore } from './support/seeded-store';

/** The compiled CLI (this file runs from dist/test/projections). */
const CLI_JS = resolve(__dirname, '../../scripts/projections.js');

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI_JS, ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', fail);
    child.once('exit', (code) => done({ code, stdout, stderr }));
  });
}

describe('npm run projections: list and replay beside the running service', () => {
  let seeded: SeededStore;
  let server: RunningServer;
  let admin: string;

  const views = async () =>
    (await server.request('POST', '/admin/v1/views/_search', { token: admin })).body.result as any[];

  before(async () => {
    seeded = await seededStore(seedSize(12_000));
    server = await startServer({ dataDir: seeded.dataDir, env: seeded.env });
    admin = await server.token({ sub: 'admin-1', org: 'org-1', roles: { IAM_OWNER: ['org-1'] } });
  });
  after(async () => {
    await stopAll();
    await seeded?.cleanup();
  });

  it('lists every view with its generation, position, head and lag', async () => {
    const run = await cli(['list'], seeded.env);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.match(lines[0], /^VIEW\s+VERSION\s+GEN\s+POSITION\s+HEAD\s+LAG\s+LAG S\s+LAST EVENT\s+STATE$/);
    const head = (await views())[0].headSequence;
    for (const [name, version] of [['users', 2], ['auth_factors', 1]]) {
      const line = lines.find((l) => l.startsWith(`${name} `));
      assert.ok(line, `${name} is listed`);
      assert.match(line, new RegExp(`^${name}\\s+${version}\\s+0\\s+${head}\\s+${head}\\s+0\\s+0\\.0\\s+\\S+\\s+running$`));
    }
    assert.ok(lines.some((l) => l.startsWith('security_notifications (subscription)')));
    const json = await cli(['list', '--json'], seeded.env);
    assert.equal(JSON.parse(json.stdout)[0].name, 'users');
  });

  it('replays a view with a progress bar while the service keeps answering, and the service follows the switch', async () => {
    const userIds = Array.from({ length: 20 }, (_, i) => `${seeded.prefix}${i * 7}`);
    const read = async () => Promise.all(userIds.map(async (id) => (await server.request('GET', `/v2/users/${id}`, { token: admin })).body));
    const before = await read();
    assert.ok(before.every((body) => body.user || body.code === 5));

    const replay = cli(['replay', 'users', '--batch', '1000'], seeded.env);
    let finished = false;
    void replay.then(() => (finished = true));
    let readsDuring = 0;
    while (!finished) {
      assert.deepEqual(await read(), before, 'reads during the replay answer as before');
      readsDuring++;
    }
    const run = await replay;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /replaying users into generation 1/);
    assert.match(run.stderr, /users \|[█░]+\| 100% \| \d+\/\d+ events \| [\d,]+ events\/s \| ETA/);
    assert.match(run.stderr, /users generation 1 caught up at position \d+ and now answers reads/);
    assert.ok(readsDuring > 0);
    assert.deepEqual(await read(), before);

    const [users] = await views();
    assert.equal(users.generation, 1);
    assert.equal(users.state, 'VIEW_STATE_RUNNING');
    // The service writes its new events into the generation the CLI switched to, and reads them back.
    const created = await server.request('POST', '/v2/users/human', {
      token: admin,
      body: { profile: { givenName: 'After', familyName: 'Replay' }, email: { email: `after.${seeded.prefix}@example.com`, isVerified: true } },
    });
    assert.equal(created.status, 200, created.text);
    const user = await server.request('GET', `/v2/users/${created.body.userId}`, { token: admin });
    assert.equal(user.status, 200);
    assert.equal(user.body.details.sequence, created.body.details.sequence);
    const [after] = await views();
    assert.equal(after.processedSequence, after.headSequence);
    assert.equal(after.generation, 1);
  });

  it('says what is wrong with its arguments', async () => {
    const unknown = await cli(['replay', 'nope'], seeded.env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no view named "nope"; views: users, auth_factors, or all/);
    const missing = await cli([], seeded.env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /usage: npm run projections/);
    const config = await cli(['list'], { ...seeded.env, LOG_LEVEL: 'loud' });
    assert.equal(config.code, 78);
    assert.match(config.stderr, /LOG_LEVEL/);
  });
});
