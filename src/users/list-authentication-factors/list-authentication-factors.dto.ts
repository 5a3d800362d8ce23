import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsArray, IsIn, IsOptional } from 'class-validator';
import { enumByNumber } from '../../http-edge/enum-by-number';

/** zitadel.user.v2.AuthFactors and AuthFactorState, by number as protobuf JSON also accepts them. */
export const AUTH_FACTORS = ['OTP', 'OTP_SMS', 'OTP_EMAIL', 'U2F'] as const;
export const AUTH_FACTOR_STATES = [
  'AUTH_FACTOR_STATE_UNSPECIFIED',
  'AUTH_FACTOR_STATE_NOT_READY',
  'AUTH_FACTOR_STATE_READY',
  'AUTH_FACTOR_STATE_REMOVED',
] as const;

export class ListAuthenticationFactorsDto {
  @ApiPropertyOptional({
    enum: AUTH_FACTORS,
    isArray: true,
    description: 'Only factors of these types (by name, or by number as protobuf JSON allows); default: all',
  })
  @IsOptional()
  @IsArray()
  @Transform(enumByNumber(AUTH_FACTORS))
  @IsIn(AUTH_FACTORS, { each: true, message: `each value must be one of ${AUTH_FACTORS.join(', ')}` })
  authFactors?: Array<(typeof AUTH_FACTORS)[number]>;

  @ApiPropertyOptional({
    enum: AUTH_FACTOR_STATES,
    isArray: true,
    description: 'Only factors in these states; default: AUTH_FACTOR_STATE_READY',
  })
  @IsOptional()
  @IsArray()
  @Transform(enumByNumber(AUTH_FACTOR_STATES))
  @IsIn(AUTH_FACTOR_STATES, { each: true, message: `each value must be one of ${AUTH_FACTOR_STATES.join(', ')}` })
  states?: Array<(typeof AUTH_FACTOR_STATES)[number]>;
}
