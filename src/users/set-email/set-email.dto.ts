import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsEmail, IsNotEmpty, IsOptional, IsString, Validate } from 'class-validator';
import { VerificationCodes, VerificationOneOf } from '../email-verification';

/** SetEmailRequest, in protobuf JSON (the path carries the user id). */
export class SetEmailDto extends VerificationCodes {
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
}
