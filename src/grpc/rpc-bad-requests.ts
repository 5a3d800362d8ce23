import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import { errorFromJsonBytes, errorToJsonBytes } from '@connectrpc/connect/protocol-connect';
import { createAsyncIterable, encodeEnvelope, type UniversalHandler, type UniversalServerResponse } from '@connectrpc/connect/protocol';
import { trailerFlag, trailerParse, trailerSerialize } from '@connectrpc/connect/protocol-grpc-web';

/** connect-es's words for a request message it could not read: bytes that are not the message, or not compressed as they say. */
const UNDECODABLE = /^(parse binary: |received compressed envelope|decompression failed)/;

/** Connect answers that connect-es sends without a body, given the words a client needs. */
const BODILESS: Readonly<Record<number, ConnectError>> = {
  405: new ConnectError('RPCs are called with POST (GET only for methods without side effects)', Code.Unimplemented),
  415: new ConnectError(
    'unsupported Content-Type: Connect takes application/json or application/proto, gRPC-web application/grpc-web+proto or +json',
    Code.InvalidArgument,
  ),
};

/**
 * What connect-es answers to bad requests before any interceptor runs, made what the contract
 * says bad input gets. A request whose bytes are not a message of the method's input type is
 * answered INTERNAL (HTTP 500 on Connect): that is the client's fault, so it becomes
 * INVALID_ARGUMENT on every protocol. Connect's 405 and 415 come without a body: they get one
 * that says what to send. Every other answer passes as it is.
 */
export function answerBadRequestsInContractShape(router: ConnectRouter): void {
  router.handlers.forEach((handler, index) => {
    const wrapped = async (...args: Parameters<UniversalHandler>) => rewrite(await handler(...args), handler);
    router.handlers[index] = Object.assign(wrapped, handler);
  });
}

function invalid(handler: UniversalHandler, rawMessage: string): ConnectError {
  const detail = decodeURIComponent(rawMessage).replace(/^parse binary: /, '');
  return new ConnectError(`the request message could not be read as ${handler.method.input.typeName}: ${detail}`, Code.InvalidArgument);
}

async function rewrite(response: UniversalServerResponse, handler: UniversalHandler): Promise<UniversalServerResponse> {
  const { trailer, body } = response;
  const missing = BODILESS[response.status];
  if (missing && !body) {
    const header = jsonHeader(response);
    // Connect serves GET only for methods without side effects; every method takes POST.
    if (response.status === 405) header.set('allow', handler.allowedMethods.includes('GET') ? 'GET, POST' : 'POST');
    return { ...response, header, body: createAsyncIterable([errorToJsonBytes(missing, {})]) };
  }
  // Connect unary: the error is the JSON body of a non-200 answer.
  if (response.status === 500 && body) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of body) chunks.push(chunk);
    const bytes = Buffer.concat(chunks);
    const error = errorFromJsonBytes(bytes, undefined, new ConnectError('unreadable error body', Code.Internal));
    if (error.code !== Code.Internal || !UNDECODABLE.test(error.rawMessage)) return { ...response, body: createAsyncIterable([bytes]) };
    return { ...response, status: 400, header: jsonHeader(response), body: createAsyncIterable([errorToJsonBytes(invalid(handler, error.rawMessage), {})]) };
  }
  if (!body) return response;
  // gRPC: the status is in the trailer, set by the time the body ends. gRPC-web: in an envelope of the body.
  return {
    ...response,
    body: (async function* () {
      for await (const chunk of body) {
        if (chunk[0] === trailerFlag && chunk.byteLength >= 5 && chunk.byteLength === 5 + Buffer.from(chunk).readUInt32BE(1)) {
          const fields = trailerParse(chunk.subarray(5));
          yield fix(fields, handler) ? encodeEnvelope(trailerFlag, trailerSerialize(fields)) : chunk;
        } else {
          yield chunk;
        }
      }
      if (trailer) fix(trailer, handler);
    })(),
  };
}

/** The answer's headers for a new JSON body: connect-es set the length of the body it made. */
function jsonHeader(response: UniversalServerResponse): Headers {
  const header = new Headers(response.header);
  header.delete('content-length');
  header.set('content-type', 'application/json');
  return header;
}

/** Rewrites a gRPC status of the undecodable kind in place; true when it did. */
function fix(fields: Headers, handler: UniversalHandler): boolean {
  if (fields.get('grpc-status') !== String(Code.Internal)) return false;
  const message = fields.get('grpc-message') ?? '';
  if (!UNDECODABLE.test(decodeURIComponent(message))) return false;
  const error = invalid(handler, message);
  fields.set('grpc-status', String(error.code));
  fields.set('grpc-message', encodeURIComponent(error.rawMessage));
  fields.delete('grpc-status-details-bin');
  return true;
}
