import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RunningServer, startServer, stopAll } from '../support/server';

/** The sources, from dist/test/browser where this file runs. */
const ROOT = resolve(__dirname, '../../..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));
/** .ci/run installs Chromium and sets this: there a missing browser is a failure, not a skip. */
const REQUIRED = process.env.REQUIRE_BROWSER === '1';

interface Report {
  origin: string;
  grpcWeb: { ok: boolean; userId?: string; givenName?: string; error?: string };
  rest: { ok: boolean; status?: number; requestId?: string; userId?: string; error?: string };
}

/** A web page on an origin of its own that calls the service and posts back what it got. */
class PageServer {
  private server!: Server;
  private waiting?: (report: Report) => void;
  private settings = {};

  constructor(private readonly script: string) {}

  get origin(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      if (request.method === 'POST' && request.url === '/result') {
        let body = '';
        request.on('data', (chunk) => (body += chunk));
        request.on('end', () => {
          response.end('{}');
          this.waiting?.(JSON.parse(body) as Report);
        });
      } else if (request.url === '/page.js') {
        response.writeHead(200, { 'content-type': 'text/javascript' }).end(this.script);
      } else if (request.url?.startsWith('/?')) {
        const settings = JSON.stringify(this.settings).replace(/</g, '\\u003c');
        response
          .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
          .end(`<!doctype html><title>a browser app</title><script type="application/json" id="settings">${settings}</script><script type="module" src="/page.js"></script>`);
      } else {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((ready) => this.server.listen(0, '127.0.0.1', ready));
  }

  /** Opens the page in headless Chromium and resolves what the page reported. */
  async visit(settings: object): Promise<Report> {
    this.settings = settings;
    const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
    const reported = new Promise<Report>((done) => (this.waiting = done));
    const browser: ChildProcess = spawn(
      CHROMIUM!,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        // Without these Chromium keeps trying to reach Google's hosts, which this network refuses.
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        `${this.origin}/?visit=${Date.now()}`,
      ],
      // Its own process group, so that its helper processes (zygote, renderers) end with it.
      { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
    );
    let stderr = '';
    browser.stderr!.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise<never>((_, fail) =>
      browser.once('exit', (code) => fail(new Error(`chromium exited (${code}) before the page reported:\n${stderr.slice(-3000)}`))),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`the page did not report within 60 s:\n${stderr.slice(-3000)}`)), 60_000);
    });
    try {
      return await Promise.race([reported, exited, timeout]);
    } finally {
      clearTimeout(timer);
      browser.removeAllListeners('exit');
      const gone = new Promise((done) => browser.once('exit', done));
      process.kill(-browser.pid!, 'SIGKILL');
      await gone;
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    }
  }

  async stop(): Promise<void> {
    await new Promise((done) => this.server.close(done));
  }
}

describe('a browser app on another origin (headless Chromium)', { skip: !CHROMIUM && !REQUIRED && 'Chromium is not installed (apt-get install chromium); .ci/run installs it' }, () => {
  let page: PageServer;

  before(async () => {
    assert.ok(CHROMIUM, 'Chromium is required here (REQUIRE_BROWSER=1) but neither /usr/bin/chromium nor CHROMIUM_PATH exists');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const esbuild = require('esbuild') as typeof import('esbuild');
    const bundle = await esbuild.build({
      entryPoints: [join(ROOT, 'test/browser/page.mjs')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'chrome120',
      write: false,
      logLevel: 'silent',
    });
    page = new PageServer(bundle.outputFiles[0].text);
    await page.start();
  });
  after(async () => {
    await page?.stop();
    await stopAll();
  });

  /** A server with a user of its own (with EventStoreDB, every server of a run shares one log). */
  async function serviceWithUser(env: Record<string, string>): Promise<{ service: RunningServer; token: string; userId: string }> {
    const service = await startServer({ env });
    const token = await service.token({ sub: 'admin-1', org: 'acme', roles: { IAM_OWNER: ['acme'] } });
    const userId = `minnie-${randomUUID()}`;
    const added = await service.request('POST', '/v2/users/human', {
      token,
      body: { userId, profile: { givenName: 'Minnie', familyName: 'Mouse' }, email: { email: `${userId}@example.com` } },
    });
    assert.equal(added.status, 200, added.text);
    return { service, token, userId };
  }

  /** The log lines of the page's REST call. */
  const restCallsIn = (service: RunningServer, userId: string) =>
    service.logs().split('\n').filter((line) => line.includes('"method":"GET"') && line.includes(`"path":"/v2/users/${userId}"`));

  it('calls the service with gRPC-web (@zitadel/client) and with fetch when CORS_ALLOWED_ORIGINS names its origin', async () => {
    const { service, token, userId } = await serviceWithUser({ CORS_ALLOWED_ORIGINS: page.origin });
    const report = await page.visit({ service: service.url, token, userId });
    assert.equal(report.origin, page.origin);
    assert.notEqual(new URL(service.url).origin, report.origin, 'the page and the service are on different origins');
    assert.deepEqual(report.grpcWeb, { ok: true, userId, givenName: 'Minnie' });
    assert.deepEqual(report.rest, { ok: true, status: 200, requestId: 'from-the-browser', userId });
    assert.equal(restCallsIn(service, userId).length, 1);
    await service.stop();
  });

  it('is refused by the browser when CORS_ALLOWED_ORIGINS is unset', async () => {
    const { service, token, userId } = await serviceWithUser({});
    const report = await page.visit({ service: service.url, token, userId });
    assert.equal(report.grpcWeb.ok, false, JSON.stringify(report.grpcWeb));
    assert.equal(report.rest.ok, false, JSON.stringify(report.rest));
    assert.match(report.rest.error ?? '', /TypeError: Failed to fetch/);
    // The service saw no call that got through: the browser stopped at the preflight.
    assert.deepEqual(restCallsIn(service, userId), []);
    await service.stop();
  });
});
