import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsEmail, IsNotEmpty, IsOptional, IsString } from 'class-validator';

/** SetEmailRequest, in protobuf JSON (the path carries the user id). */
export class SetEmailDto {
  @ApiProperty({ format: 'email', example: 'mini@mouse.com' })
  @IsString()
  @IsNotEmpty()
  @IsEmail({}, { message: 'must be a valid email address' })
  email!: string;

  @ApiPropertyOptional({ description: 'The address is known to belong to the user', default: false })
  @IsOptional()
  @IsBoolean()
  isVerified?: boolean;
}
