import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsObject, IsOptional, ValidationArguments, ValidatorConstraint, ValidatorConstraintInterface } from 'class-validator';

/** ZITADEL's verification oneof of an email (SetHumanEmail, SetEmailRequest): one choice at most. */
const VERIFICATION = ['sendCode', 'returnCode', 'isVerified'] as const;

/**
 * Refuses a body that sets more than one field of the oneof, as protobuf JSON (and so Connect and
 * gRPC) refuses it. Put on a property that is always validated; it looks at the object that holds
 * the oneof: the property's value when that is an object (AddHumanUser's `email`), else the body.
 */
@ValidatorConstraint({ name: 'verificationOneOf' })
export class VerificationOneOf implements ValidatorConstraintInterface {
  validate(value: unknown, args: ValidationArguments): boolean {
    const holder = (value !== null && typeof value === 'object' ? value : args.object) as Record<string, unknown>;
    return VERIFICATION.filter((field) => holder[field] !== undefined && holder[field] !== null).length <= 1;
  }

  defaultMessage(): string {
    return `${VERIFICATION.join(', ')} are one choice: give at most one of them`;
  }
}

/** The two code fields of the oneof, declared so that VerificationOneOf sees them (undeclared fields are stripped). */
export class VerificationCodes {
  @ApiPropertyOptional({ description: 'Accepted for ZITADEL clients; this service sends no codes', type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  sendCode?: object;

  @ApiPropertyOptional({ description: 'Accepted for ZITADEL clients; this service makes no codes', type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  returnCode?: object;
}
