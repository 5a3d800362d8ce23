import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { ValidationError, validateSync } from 'class-validator';
import { Errors } from '../errors/errors';
import { CONTROL_CHARACTERS } from '../shared/text';
import { EMPTY_PARAM, MALFORMED_JSON, isMalformedJson } from './markers';

/**
 * Validates a request body against its DTO: a body that is not a JSON object, a field of the wrong
 * type or an unknown enum name is 400 code 3 naming the field. Unknown fields are ignored, as
 * protobuf JSON ignores them. A missing body is an empty object.
 */
@Injectable()
export class BodyValidationPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'body' || !metadata.metatype || metadata.metatype === Object) return value;
    if (isMalformedJson(value)) throw Errors.invalidArgument(`invalid JSON in request body: ${value[MALFORMED_JSON]}`);
    const plain = value ?? {};
    if (typeof plain !== 'object' || Array.isArray(plain)) {
      throw Errors.invalidArgument('request body must be a JSON object');
    }
    const illFormed = illFormedStringIn(plain);
    if (illFormed !== null) throw Errors.invalidArgument(`invalid ${illFormed}: ${ILL_FORMED}`);
    const instance = plainToInstance(metadata.metatype, withJsonNames(plain, '')) as object;
    const errors = validateSync(instance, { whitelist: true, forbidUnknownValues: false });
    if (errors.length > 0) throw Errors.invalidArgument(describe(errors, ''));
    return instance;
  }
}

/** A field's JSON name from its proto name, as protoc derives it: `given_name` is `givenName`. */
function jsonNameOf(protoName: string): string {
  return protoName.replace(/_([a-z0-9])/g, (_match, next: string) => next.toUpperCase());
}

/**
 * The body with every field under its JSON name. ZITADEL's gateway reads protobuf JSON, which
 * takes a field's proto name (`user_id`) as well as its JSON name (`userId`): clients written for
 * it may send either. A field given under both names is refused, as protobuf JSON refuses it.
 */
function withJsonNames(value: unknown, path: string): unknown {
  if (Array.isArray(value)) return value.map((item, i) => withJsonNames(item, `${path}[${i}]`));
  if (!value || typeof value !== 'object') return value;
  const named: Record<string, unknown> = {};
  const givenAs = new Map<string, string>();
  for (const [key, child] of Object.entries(value)) {
    const name = jsonNameOf(key);
    const at = path ? `${path}.${name}` : name;
    if (givenAs.has(name)) throw Errors.invalidArgument(`invalid ${at}: given twice, as ${givenAs.get(name)} and as ${key}`);
    givenAs.set(name, key);
    named[name] = withJsonNames(child, at);
  }
  return named;
}

const ILL_FORMED = 'must be well-formed text (it holds a lone UTF-16 surrogate)';

/**
 * The path of the first string of a body that is not well-formed UTF-16 (a lone surrogate, which
 * JSON's \u escapes can carry), or null. Such a string cannot be stored as text everywhere, nor
 * sent on as UTF-8: it would make a user no endpoint can reach again.
 */
function illFormedStringIn(body: object): string | null {
  const stack: Array<[unknown, string]> = [[body, '']];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      if (!value.isWellFormed()) return path || 'request body';
    } else if (value && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) stack.push([child, path ? `${path}.${key}` : key]);
    }
  }
  return null;
}

/** class-validator's type checks, named before any other failed check of the same field. */
const TYPE_CHECKS = ['isObject', 'isString', 'isInt', 'isNumber', 'isBoolean', 'isArray', 'isEnum'];

function describe(errors: ValidationError[], prefix: string): string {
  const first = errors[0];
  const path = prefix ? `${prefix}.${first.property}` : first.property;
  if (first.children?.length) return describe(first.children, path);
  // "must be longer than 1 character" would say "too short" of a field that is not there at all.
  if (first.value === undefined || first.value === null) return `invalid ${path}: is required`;
  // A value of the wrong type fails its bounds too: say what is wrong with it first ("must be an
  // integer number", not "must not be greater than 1000").
  const constraints = first.constraints ?? {};
  const reason = constraints[TYPE_CHECKS.find((name) => name in constraints) ?? Object.keys(constraints)[0]] ?? 'is invalid';
  return `invalid ${path}: ${reason.replace(new RegExp(`^${first.property}\\s*`), '')}`;
}

/** The contract's check on a path's user id, worded as ZITADEL's validator words it. */
@Injectable()
export class UserIdPipe implements PipeTransform<string, string> {
  constructor(private readonly requestName: string) {}

  transform(value: string): string {
    const length = value === EMPTY_PARAM ? 0 : [...(value ?? '')].length;
    if (length < 1 || length > 200) {
      throw Errors.invalidArgument(
        `invalid ${this.requestName}.UserId: value length must be between 1 and 200 runes, inclusive`,
      );
    }
    if (CONTROL_CHARACTERS.test(value)) {
      throw Errors.invalidArgument(`invalid ${this.requestName}.UserId: must not contain control characters`);
    }
    if (!value.isWellFormed()) throw Errors.invalidArgument(`invalid ${this.requestName}.UserId: ${ILL_FORMED}`);
    return value;
  }
}
