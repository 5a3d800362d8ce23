import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One POST the receiver got, with what ZITADEL's ValidatePayload made of its signature. */
export interface Received {
  path: string;
  status: number;
  body: any;
  raw: string;
  /** null when the signature checked out, else why not. */
  signatureError: string | null;
  at: number;
}

/**
 * ZITADEL's ValidatePayload (pkg/actions/signing.go), written out: the header is `k=v` pairs split
 * on ","; `t` is unix seconds, each `v1` a hex HMAC-SHA256 of "<t>.<payload>" keyed with the
 * signing key; a timestamp older than the tolerance (300 s) is refused; one matching v1 is enough.
 */
export function validatePayload(payload: string, header: string | undefined, signingKey: string, toleranceS = 300): string | null {
  if (!header) return 'not signed';
  let timestamp: number | null = null;
  const signatures: Buffer[] = [];
  for (const pair of header.split(',')) {
    const parts = pair.split('=');
    if (parts.length !== 2) return 'invalid header';
    if (parts[0] === 't') {
      if (!/^-?\d+$/.test(parts[1])) return 'invalid timestamp';
      timestamp = Number(parts[1]);
    } else if (parts[0] === 'v1' && /^([0-9a-f]{2})*$/i.test(parts[1])) {
      signatures.push(Buffer.from(parts[1], 'hex'));
    }
  }
  if (timestamp === null || signatures.length === 0) return 'no valid signature';
  const expected = createHmac('sha256', signingKey).update(`${timestamp}`).update('.').update(payload).digest();
  if (Date.now() / 1000 - timestamp > toleranceS) return 'timestamp too old';
  return signatures.some((s) => s.length === expected.length && timingSafeEqual(s, expected)) ? null : 'no valid signature';
}

/** An HTTP target on 127.0.0.1: answers each POST with the status `answer` gives for it, and records it. */
export class Receiver {
  readonly received: Received[] = [];
  /** Signing keys by path, to check the signatures with. */
  readonly keys = new Map<string, string>();
  answer: (path: string, body: any, count: number) => number = () => 200;
  /** Where a path's requests are sent on: answered 302 with that Location. */
  redirects: (path: string) => string | undefined = () => undefined;
  /** Paths whose requests are read but never answered (a target that hangs); recorded with status 0. */
  hangs: (path: string) => boolean = () => false;
  /** The most requests to each path that were under way at once. */
  readonly mostOpen = new Map<string, number>();
  private readonly open = new Map<string, number>();
  private server: Server | null = null;
  port = 0;

  async start(port = 0): Promise<this> {
    this.server = createServer((request, response) => {
      const path = request.url ?? '/';
      this.open.set(path, (this.open.get(path) ?? 0) + 1);
      this.mostOpen.set(path, Math.max(this.mostOpen.get(path) ?? 0, this.open.get(path)!));
      response.on('close', () => this.open.set(path, this.open.get(path)! - 1));
      let raw = '';
      request.setEncoding('utf8');
      request.on('data', (chunk) => (raw += chunk));
      request.on('end', () => {
        let body: any = null;
        try {
          body = JSON.parse(raw);
        } catch {
          body = raw;
        }
        const count = this.received.filter((r) => r.path === path).length + 1;
        const location = this.redirects(path);
        const status = this.hangs(path) ? 0 : location ? 302 : this.answer(path, body, count);
        const key = this.keys.get(path);
        const header = request.headers['zitadel-signature'];
        const signatureError = key ? validatePayload(raw, Array.isArray(header) ? header[0] : header, key) : 'no key known';
        this.received.push({ path, status, body, raw, signatureError, at: Date.now() });
        if (status !== 0) response.writeHead(status, location ? { location } : {}).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** The requests to `path` that were answered 2xx. */
  delivered(path: string): Received[] {
    return this.received.filter((r) => r.path === path && r.status >= 200 && r.status < 300);
  }

  async waitFor(what: () => boolean, timeoutMs = 15_000, describe = 'the receiver'): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!what()) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${describe}; got ${JSON.stringify(this.received.map((r) => [r.path, r.status, r.body?.event_type, r.body?.sequence]))}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = null;
  }
}
