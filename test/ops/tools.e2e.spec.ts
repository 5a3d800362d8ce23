import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { MAIN_JS, startServer, stopAll } from '../support/server';

/** The sources, from dist/test/ops where this file runs. */
const ROOT = resolve(__dirname, '../../..');
const TOKEN_JS = resolve(ROOT, 'dist/scripts/token.js');

/** What a newcomer meets first: the start line, a bad setting, the token helper. */
describe('starting up and the command-line tools', () => {
  after(stopAll);

  it('names the address it really listens on, and prints no deprecation warning', async () => {
    const server = await startServer({ env: { HOST: '127.0.0.1' } });
    const lines = server.logs().split('\n');
    assert.ok(lines.some((line) => line.includes(`"msg":"mfa-service listening on http://127.0.0.1:${server.port} (event store:`)), server.logs());
    assert.deepEqual(lines.filter((line) => /Warning|FSTDEP|DeprecationWarning/.test(line)), []);
    await server.stop();
    const everywhere = await startServer({ env: { HOST: '0.0.0.0' } });
    assert.match(everywhere.logs(), /mfa-service listening on http:\/\/0\.0\.0\.0:\d+, all interfaces \(event store:/);
  });

  it('reports a bad setting as one JSON log line without colour codes, naming the variable', () => {
    const run = spawnSync(process.execPath, [MAIN_JS], {
      env: { PATH: process.env.PATH, CORS_ALLOWED_ORIGINS: 'app.example.com', DATA_DIR: mkdtempSync(join(tmpdir(), 'mfa-')) },
      encoding: 'utf8',
    });
    assert.equal(run.status, 78, run.stdout + run.stderr);
    const lines = (run.stdout + run.stderr).trim().split('\n');
    assert.equal(lines.length, 1, run.stdout + run.stderr);
    assert.doesNotMatch(lines[0], /\u001b\[/);
    const line = JSON.parse(lines[0]);
    assert.equal(line.level, 'fatal');
    assert.match(line.msg, /^invalid configuration: CORS_ALLOWED_ORIGINS: must be comma-separated origins/);
  });

  describe('npm run token', () => {
    const token = (...args: string[]) =>
      spawnSync(process.execPath, [TOKEN_JS, ...args], {
        env: { PATH: process.env.PATH, DATA_DIR: mkdtempSync(join(tmpdir(), 'mfa-')) },
        encoding: 'utf8',
      });

    it('refuses an unknown role, naming the roles there are', () => {
      const run = token('--sub', 'admin-1', '--org', 'acme', '--role', 'IAM_OWNR');
      assert.equal(run.status, 2);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /^unknown role IAM_OWNR: the roles are IAM_OWNER, IAM_USER_MANAGER, ORG_OWNER, ORG_USER_MANAGER/);
    });

    it('prints a token the service accepts for a known role', async () => {
      const server = await startServer();
      const run = spawnSync(process.execPath, [TOKEN_JS, '--sub', 'admin-1', '--org', 'acme', '--role', 'IAM_OWNER'], {
        env: { PATH: process.env.PATH, DATA_DIR: server.dataDir },
        encoding: 'utf8',
      });
      assert.equal(run.status, 0, run.stderr);
      const views = await server.request('POST', '/admin/v1/views/_search', { token: run.stdout.trim() });
      assert.equal(views.status, 200, views.text);
    });

    it('does not compile again when the build is current', () => {
      const info = resolve(ROOT, 'dist/.tsbuildinfo');
      const before = statSync(info).mtimeMs;
      const run = spawnSync(process.execPath, [resolve(ROOT, 'scripts/built.mjs')], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.equal(statSync(info).mtimeMs, before, 'dist was rebuilt');
    });
  });
});
