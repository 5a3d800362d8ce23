import { fromJson, type DescEnum, type DescMessage, type JsonValue, type MessageShape } from '@bufbuild/protobuf';
import { Errors } from '../../errors/errors';
import { isMalformedJson } from '../../http-edge/markers';

/**
 * A REST body (with the path's fields) as the request message the RPC form gets: protobuf JSON, as
 * ZITADEL's gateway reads it. What does not fit the message is 400 code 3 naming the field.
 * Unknown fields are ignored; an unknown enum name is refused, as the contract says (fromJson's
 * ignoreUnknownFields would drop it silently, and the request would then mean something else).
 */
export function requestFromJson<Desc extends DescMessage>(schema: Desc, body: unknown, path: Record<string, string> = {}): MessageShape<Desc> {
  if (isMalformedJson(body)) throw Errors.invalidArgument('invalid JSON in request body');
  const plain = body ?? {};
  if (typeof plain !== 'object' || Array.isArray(plain)) throw Errors.invalidArgument('request body must be a JSON object');
  const json = { ...(plain as object), ...path } as Record<string, unknown>;
  checkEnumNames(schema, json, '');
  try {
    return fromJson(schema, json as JsonValue, { ignoreUnknownFields: true });
  } catch (error) {
    throw Errors.invalidArgument(`invalid request: ${(error as Error).message}`);
  }
}

/** Throws for the first enum name in `json` that its field's enum does not have. */
function checkEnumNames(schema: DescMessage, json: Record<string, unknown>, prefix: string): void {
  // Well-known types have JSON forms of their own (Duration as a string, Struct as any object).
  if (schema.typeName.startsWith('google.protobuf.')) return;
  for (const field of schema.fields) {
    const key = field.jsonName in json ? field.jsonName : field.name;
    const value = json[key];
    if (value === undefined || value === null) continue;
    const name = prefix + field.jsonName;
    const values = field.fieldKind === 'list' ? (Array.isArray(value) ? value : []) : [value];
    const kind = field.fieldKind === 'list' ? field.listKind : field.fieldKind;
    if (kind === 'enum' && field.enum) for (const item of values) checkEnumName(field.enum, item, name);
    if (kind === 'message' && field.message) {
      for (const item of values) if (isObject(item)) checkEnumNames(field.message, item, `${name}.`);
    }
    if (field.fieldKind === 'map' && isObject(value)) {
      for (const [entry, item] of Object.entries(value)) {
        if (field.mapKind === 'enum') checkEnumName(field.enum, item, `${name}[${entry}]`);
        if (field.mapKind === 'message' && isObject(item)) checkEnumNames(field.message, item, `${name}[${entry}].`);
      }
    }
  }
}

function checkEnumName(desc: DescEnum, value: unknown, name: string): void {
  if (typeof value !== 'string' || desc.values.some((known) => known.name === value)) return;
  throw Errors.invalidArgument(`invalid ${name}: must be one of ${desc.values.map((known) => known.name).join(', ')}`);
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
