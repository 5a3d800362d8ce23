export interface SseEvent {
  id: string;
  event: string;
  data: any;
}

/** A Server-Sent Events client on fetch, for tests: frames as they come, and comment lines counted. */
export class SseClient {
  readonly events: SseEvent[] = [];
  comments = 0;
  status = 0;
  headers: Headers | undefined;
  /** Body of a response that was not a stream (an error). */
  errorBody: any;
  ended = false;
  private readonly abort = new AbortController();
  private waiters: Array<() => void> = [];
  private done: Promise<void> = Promise.resolve();

  static async open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const client = new SseClient();
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: client.abort.signal });
    client.status = response.status;
    client.headers = response.headers;
    if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
      const text = await response.text();
      try {
        client.errorBody = JSON.parse(text);
      } catch {
        client.errorBody = text;
      }
      client.ended = true;
      return client;
    }
    client.done = client.read(response.body!);
    return client;
  }

  /** Waits until `condition` holds on what arrived, or fails after `ms`. */
  async until(condition: (client: SseClient) => boolean, what: string, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!condition(this)) {
      if (this.ended && !condition(this)) throw new Error(`the stream ended before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${this.events.length} events`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => (clearTimeout(timer), resolve()));
      });
    }
  }

  /** Disconnects, as a client that goes away. */
  async close(): Promise<void> {
    this.abort.abort();
    await this.done.catch(() => undefined);
  }

  /** Resolves when the server ends the stream. */
  async closedByServer(ms: number): Promise<void> {
    await Promise.race([
      this.done,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`the server did not end the stream within ${ms} ms`)), ms)),
    ]);
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          this.frame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
        this.wake();
      }
    } catch {
      // aborted by close()
    } finally {
      this.ended = true;
      this.wake();
    }
  }

  private frame(text: string): void {
    const fields: Record<string, string> = {};
    for (const line of text.split('\n')) {
      if (line.startsWith(':')) {
        this.comments++;
        continue;
      }
      const colon = line.indexOf(':');
      const name = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      fields[name] = fields[name] === undefined ? value : `${fields[name]}\n${value}`;
    }
    if (fields.data !== undefined) {
      this.events.push({ id: fields.id, event: fields.event ?? 'message', data: JSON.parse(fields.data) });
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
