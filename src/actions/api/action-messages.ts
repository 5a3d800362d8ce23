import { fromJson, type DescMessage, type JsonValue, type MessageShape } from '@bufbuild/protobuf';
import { Errors } from '../../errors/errors';
import { isMalformedJson } from '../../http-edge/markers';

/**
 * A REST body (with the path's fields) as the request message the RPC form gets: protobuf JSON, as
 * ZITADEL's gateway reads it. What does not fit the message is 400 code 3 naming the field.
 */
export function requestFromJson<Desc extends DescMessage>(schema: Desc, body: unknown, path: Record<string, string> = {}): MessageShape<Desc> {
  if (isMalformedJson(body)) throw Errors.invalidArgument('invalid JSON in request body');
  const plain = body ?? {};
  if (typeof plain !== 'object' || Array.isArray(plain)) throw Errors.invalidArgument('request body must be a JSON object');
  try {
    return fromJson(schema, { ...(plain as object), ...path } as JsonValue, { ignoreUnknownFields: true });
  } catch (error) {
    throw Errors.invalidArgument(`invalid request: ${(error as Error).message}`);
  }
}
