import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MALFORMED_JSON } from './markers';

interface KnownRoute {
  method: string;
  /** Which path segments are parameters. */
  params: boolean[];
  pattern: RegExp;
}

/** The routes the app serves, to tell an unknown path (404) from a wrong method (405). */
export class KnownRoutes {
  private readonly routes: KnownRoute[] = [];

  add(method: string, url: string): void {
    const source = url
      .split('/')
      .map((segment) => (segment.startsWith(':') ? '[^/]*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    const params = url.split('/').map((segment) => segment.startsWith(':'));
    this.routes.push({ method, params, pattern: new RegExp(`^${source}$`) });
  }

  /** The URL with empty parameter segments marked, when only that makes it match a route. */
  markEmptyParams(method: string, url: string): string {
    const [path, query] = splitUrl(url);
    if (!path.includes('//') && !path.endsWith('/')) return url;
    for (const route of this.routes) {
      if (route.method !== method) continue;
      if (!route.pattern.test(path)) continue;
      const marked = path.split('/').map((segment, i) => (route.params[i] && segment === '' ? '%00' : segment));
      return marked.join('/') + query;
    }
    return url;
  }

  /** The methods a path is served with when it is served, but not with this method (for a 405's Allow); else null. */
  allowedIfWrongMethod(method: string, url: string): string[] | null {
    const [path] = splitUrl(url);
    const allowed = [...new Set(this.routes.filter((route) => route.pattern.test(path)).map((route) => route.method))];
    if (allowed.length === 0 || allowed.includes(method)) return null;
    // Fastify answers HEAD wherever it answers GET.
    return (allowed.includes('GET') ? [...allowed, 'HEAD'] : allowed).sort();
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    knownRoutes: KnownRoutes;
  }
}

export const knownRoutesOf = (request: FastifyRequest): KnownRoutes | undefined => request.server.knownRoutes;

/**
 * What the service does at the HTTP edge, before Nest sees a request. Must run before app.init().
 * - Any body is parsed as JSON (as ZITADEL's gateway does). A body that is not JSON is kept as a
 *   marker rather than failing here, so that a request without a token still answers 401 first.
 * - Routes are recorded so that the exception filter can answer 405 for a known path.
 * - A refused body is drained, up to a limit, rather than the connection closed (see limitDrain).
 */
export function installHttpEdge(app: NestFastifyApplication, routes: KnownRoutes): void {
  const fastify: FastifyInstance = app.getHttpAdapter().getInstance();
  fastify.decorate('knownRoutes', routes);
  fastify.addHook('onError', (request, reply, _error, done) => {
    limitDrain(request, reply);
    done();
  });
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.add(method, route.url);
  });
  // Fastify's own parser refuses __proto__ and constructor.prototype keys (prototype poisoning).
  const strictJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    strictJson(request, text, (error, parsed) =>
      done(null, error ? { [MALFORMED_JSON]: error.message } : parsed),
    );
  });
}

/** How much of a refused body is read and dropped before its connection is cut. */
export const DRAIN_LIMIT_BYTES = 16 * 1024 * 1024;

/**
 * A request refused before its body was read whole (too large, or no valid token): closing a
 * socket with unread data makes the kernel send a reset, which can reach the client before it has
 * read the answer, so it would see "connection reset" instead of the contract's error. So the
 * connection stays open and Node reads and drops the rest of the body once the answer is sent (no
 * more memory than a read buffer), whatever length the client declared. DRAIN_LIMIT_BYTES after
 * the answer was written the connection is cut: by then the answer has long reached the client,
 * and nobody can make the service read without end. An `onError` hook, so it holds for every
 * route (REST, Connect) and costs nothing on a request that succeeds.
 */
function limitDrain(request: FastifyRequest, reply: FastifyReply): void {
  if (request.raw.complete) return;
  // Fastify asks to close after a body it refused itself.
  reply.removeHeader('connection');
  // Read from now on (else Node would discard the body without end once the answer is written), but
  // counted from when the answer is written: cut sooner, the connection could go before the answer.
  let answered = false;
  let drained = 0;
  reply.raw.once('finish', () => (answered = true));
  request.raw.on('data', (chunk: Buffer) => {
    if (answered) drained += chunk.length;
    if (drained > DRAIN_LIMIT_BYTES) request.raw.socket.destroy();
  });
}

function splitUrl(url: string): [string, string] {
  const at = url.indexOf('?');
  return at === -1 ? [url, ''] : [url.slice(0, at), url.slice(at)];
}
