import { AddressInfo, Server, Socket, createConnection, createServer } from 'node:net';

/**
 * A TCP proxy between the service and PostgreSQL, so a test can take the database away from the
 * service (and give it back) without touching the machine's PostgreSQL, which others use.
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private listenPort = 0;
  /** Connections accepted since the start. */
  accepted = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  get port(): number {
    return this.listenPort;
  }

  /** Starts accepting, on the same port as before when it ran already. */
  async start(): Promise<void> {
    const server = createServer((client) => {
      this.accepted++;
      const upstream = createConnection({ host: this.targetHost, port: this.targetPort });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.on('data', (chunk: Buffer) => {
        const trap = this.trap;
        if (trap && chunk.includes(trap.pattern)) {
          this.trap = null;
          // The connection breaks at this very message: delivered or not, no answer comes back.
          if (trap.deliver) upstream.end(chunk);
          else upstream.destroy();
          client.destroy();
          trap.sprung();
          return;
        }
        if (!upstream.write(chunk)) client.pause();
      });
      upstream.on('drain', () => client.resume());
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, '127.0.0.1', () => resolve());
    });
    this.listenPort = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** The outage: stops accepting and cuts every open connection, both ways. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  private trap: { pattern: Buffer; deliver: boolean; sprung: () => void } | null = null;

  /**
   * Breaks the next connection that sends `pattern` (say, a COMMIT) at that message: with
   * `deliver`, PostgreSQL gets the message and the client never hears back; without, the message
   * is lost too. Resolves when it happened. Other connections and new ones go on as before.
   */
  breakAt(pattern: string, deliver: boolean): Promise<void> {
    return new Promise((sprung) => {
      this.trap = { pattern: Buffer.from(pattern), deliver, sprung };
    });
  }

  /** How many connections pass through now. */
  get open(): number {
    return this.sockets.size / 2;
  }
}
