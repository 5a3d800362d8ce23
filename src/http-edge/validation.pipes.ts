import { ArgumentMetadata, Injectable, PipeTransform } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { ValidationError, validateSync } from 'class-validator';
import { Errors } from '../errors/errors';
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
    const instance = plainToInstance(metadata.metatype, plain) as object;
    const errors = validateSync(instance, { whitelist: true, forbidUnknownValues: false });
    if (errors.length > 0) throw Errors.invalidArgument(describe(errors, ''));
    return instance;
  }
}

function describe(errors: ValidationError[], prefix: string): string {
  const first = errors[0];
  const path = prefix ? `${prefix}.${first.property}` : first.property;
  if (first.children?.length) return describe(first.children, path);
  const reason = Object.values(first.constraints ?? {})[0] ?? 'is invalid';
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
    return value;
  }
}

/** Ids are printable: a NUL, for one, cannot be stored by every backend (PostgreSQL text). */
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
