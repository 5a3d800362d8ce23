import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { ConnectRoutes, type RpcLimits } from './connect-routes';

/** How long calls in flight may take to finish at shutdown before their connections are cut. */
const SHUTDOWN_GRACE_MS = 10_000;

export interface GrpcListenOptions extends RpcLimits {
  port: number;
  host: string;
}

/**
 * gRPC over HTTP/2 cleartext on its own port (GRPC_PORT), as ZITADEL's SDKs speak it, with the
 * routes of the main port: the same Nest application, buses, verifier and errors.
 */
@Injectable()
export class GrpcServer implements BeforeApplicationShutdown {
  private readonly logger = new Logger('gRPC');
  private server?: Http2Server;
  private readonly sessions = new Set<ServerHttp2Session>();

  constructor(private readonly routes: ConnectRoutes) {}

  /** Starts listening; resolves the address it listens on, as `host:port`. */
  async listen({ port, host, ...limits }: GrpcListenOptions): Promise<string> {
    const server = createServer(connectNodeAdapter(this.routes.options(limits)));
    server.on('session', (session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
    });
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) =>
        reject(new Error(`gRPC could not listen on ${host}:${port} (GRPC_PORT): ${error.message}`, { cause: error }));
      server.once('error', fail);
      server.listen(port, host, () => {
        server.off('error', fail);
        resolve();
      });
    });
    server.on('error', (error) => this.logger.error(`gRPC server error: ${error.stack ?? error.message}`));
    this.server = server;
    const address = server.address() as AddressInfo;
    const at = address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
    this.logger.log(`gRPC listening on ${at} (HTTP/2 cleartext; Connect and gRPC-web are served on the HTTP port)`);
    return at;
  }

  /**
   * Runs before the stores close: no new connections or calls are taken (each session gets a
   * GOAWAY), calls in flight finish, and connections still open after the grace period are cut.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of this.sessions) session.close();
    const cut = setTimeout(() => {
      this.logger.warn(`calls still open ${SHUTDOWN_GRACE_MS} ms after shutdown began: closing their connections`);
      for (const session of this.sessions) session.destroy();
    }, SHUTDOWN_GRACE_MS);
    cut.unref();
    await closed;
    clearTimeout(cut);
    this.logger.log('gRPC server closed');
  }
}
