import { connect as connectHttp2, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';

export const GET_USER = '/zitadel.user.v2.UserService/GetUserByID';

/** A gRPC message frame: not compressed, its length, then the protobuf bytes. */
export function envelope(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** GetUserByIDRequest { user_id = 1 }, encoded by hand. */
export function getUserRequest(userId: string): Buffer {
  const id = Buffer.from(userId);
  return envelope(Buffer.concat([Buffer.from([0x0a, id.length]), id]));
}

export interface Answer {
  /** The gRPC status, from the trailers or a trailers-only answer. */
  grpcStatus?: number;
  grpcMessage?: string;
  /** ms from sending the headers to the answer's status. */
  ms: number;
  /** The answer came as one HEADERS frame that ended the stream. */
  trailersOnly: boolean;
}

/**
 * One call on a raw HTTP/2 session, so that the test decides what is sent and when: `body`
 * 'never' sends the headers and then nothing, as a client that holds a stream open.
 */
export function call(
  session: ClientHttp2Session,
  headers: Record<string, string>,
  body: Buffer | 'never',
  path = GET_USER,
  timeoutMs = 10_000,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const stream = session.request(
      { ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers },
      { endStream: false },
    );
    const answer: Answer = { ms: 0, trailersOnly: false };
    const status = (fields: IncomingHttpHeaders) => {
      if (fields['grpc-status'] === undefined) return;
      answer.grpcStatus = Number(fields['grpc-status']);
      answer.grpcMessage = decodeURIComponent(String(fields['grpc-message'] ?? ''));
      answer.ms = Date.now() - started;
    };
    stream.on('response', (fields, flags) => {
      answer.trailersOnly = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      status(fields);
    });
    stream.on('trailers', status);
    stream.on('data', () => undefined);
    const timer = setTimeout(() => {
      reject(new Error(`${path} was not answered within ${timeoutMs} ms`));
      stream.close(constants.NGHTTP2_CANCEL);
    }, timeoutMs);
    stream.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    stream.on('error', (error: Error & { code?: string }) => {
      // A reset after the answer (the server stops reading a body it will not use) is not a failure.
      if (answer.grpcStatus === undefined) reject(error);
    });
    if (body !== 'never') stream.end(body);
  });
}

export function openSession(url: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connectHttp2(url);
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

