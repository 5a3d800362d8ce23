import { IsBoolean, IsEmail, IsNotEmpty, IsOptional, IsString } from 'class-validator';

/** SetEmailRequest, in protobuf JSON (the path carries the user id). */
export class SetEmailDto {
  @IsString()
  @IsNotEmpty()
  @IsEmail({}, { message: 'must be a valid email address' })
  email!: string;

  @IsOptional()
  @IsBoolean()
  isVerified?: boolean;
}
