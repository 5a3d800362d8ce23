import { Logger } from '@nestjs/common';
import { Client, Notification } from 'pg';
import { PostgresOptions, connectionConfig } from './postgres-connection';

/** How often the idle listening connection proves it is alive (a silent network drop shows no error). */
const HEARTBEAT_MS = 10000;
const FIRST_RETRY_MS = 200;
const LAST_RETRY_MS = 2000;

export interface ListenerHandlers {
  notification(payload: string): void;
  /** The connection came back after a loss: notifications sent meanwhile are gone, so catch up. */
  reconnected(): void;
}

/**
 * One dedicated connection that LISTENs on a channel. Pooled connections cannot listen (a
 * notification goes to the session that listens, and the pool hands sessions around), so this one
 * is kept apart and re-established, with growing pauses, whenever it drops.
 */
export class PostgresNotificationListener {
  private readonly logger = new Logger('PostgresListener');
  private client: Client | null = null;
  private stopped = false;
  private retryMs = FIRST_RETRY_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private lost = false;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly handlers: ListenerHandlers,
    private readonly options: PostgresOptions = {},
  ) {}

  /** Connects once; rejects when that first attempt fails (the caller decides what that means). */
  async start(): Promise<void> {
    await this.connect();
  }

  get connected(): boolean {
    return this.client !== null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const config = connectionConfig(this.url, this.options);
    const client = new Client({ ...config, application_name: 'mfa-service listener' });
    let dropped = false;
    const drop = (reason: string) => {
      if (dropped) return;
      dropped = true;
      if (this.client === client) this.client = null;
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.heartbeat = null;
      client.end().catch(() => undefined);
      if (this.stopped) return;
      if (!this.lost) {
        this.logger.warn(`lost the connection that listens for new events (${reason}); reconnecting`);
        this.lost = true;
      }
      this.scheduleReconnect();
    };
    client.on('error', (error) => drop(error.message));
    client.on('end', () => drop('connection ended'));
    client.on('notification', (message: Notification) => {
      if (message.channel === this.channel && message.payload) this.handlers.notification(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
    } catch (error) {
      drop((error as Error).message);
      throw error;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryMs = FIRST_RETRY_MS;
    this.heartbeat = setInterval(() => {
      client.query('SELECT 1').catch((error: Error) => drop(`heartbeat failed: ${error.message}`));
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
    if (this.lost) {
      this.lost = false;
      this.logger.log('listening for new events again');
      this.handlers.reconnected();
    }
  }

  private scheduleReconnect(): void {
    if (this.retryTimer || this.stopped) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, LAST_RETRY_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      // A failure drops the new client, which schedules the next attempt.
      this.connect().catch(() => undefined);
    }, wait);
    this.retryTimer.unref();
  }
}
