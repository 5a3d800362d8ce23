import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsEmail, IsNotEmpty, IsObject, IsOptional, IsString, Validate } from 'class-validator';
import { VerificationOneOf } from '../email-verification';

/** SetEmailRequest, in protobuf JSON (the path carries the user id). */
export class SetEmailDto {
  @ApiProperty({ format: 'email', example: 'mini@mouse.com' })
  @IsString()
  @IsNotEmpty()
  @IsEmail({}, { message: 'must be a valid email address' })
  @Validate(VerificationOneOf)
  email!: string;

  @ApiPropertyOptional({ description: 'The address is known to belong to the user', default: false })
  @IsOptional()
  @IsBoolean()
  isVerified?: boolean;

  @ApiPropertyOptional({ description: 'Accepted for ZITADEL clients; this service sends no codes', type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  sendCode?: object;

  @ApiPropertyOptional({ description: 'Accepted for ZITADEL clients; this service makes no codes', type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  returnCode?: object;
}
