import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { Matches, IsBoolean, IsEmail, IsNotEmpty, IsObject, IsOptional, IsString, Length, Validate, ValidateNested } from 'class-validator';
import { VerificationCodes, VerificationOneOf } from '../email-verification';

export class OrganizationDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 200, description: "Default: the caller's organization", example: '69629023906488334' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  orgId?: string;
}

export class ProfileDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'Minnie' })
  @IsString()
  @Length(1, 200)
  givenName!: string;

  @ApiProperty({ minLength: 1, maxLength: 200, example: 'Mouse' })
  @IsString()
  @Length(1, 200)
  familyName!: string;
}

export class EmailDto extends VerificationCodes {
  @ApiProperty({ format: 'email', example: 'mini@mouse.com' })
  @IsString()
  @IsNotEmpty()
  @IsEmail({}, { message: 'must be a valid email address' })
  email!: string;

  @ApiPropertyOptional({ description: 'The address is known to belong to the user; needed before AddOTPEmail', default: false })
  @IsOptional()
  @IsBoolean()
  isVerified?: boolean;
}

/** AddHumanUserRequest, in protobuf JSON. */
export class AddHumanUserDto {
  @ApiPropertyOptional({ minLength: 1, maxLength: 200, description: 'Default: a generated decimal id', example: '69629026806489455' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  @Matches(/^[^\u0000-\u001f\u007f]*$/, { message: 'must not contain control characters' })
  userId?: string;

  @ApiPropertyOptional({ type: () => OrganizationDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => OrganizationDto)
  organization?: OrganizationDto;

  @ApiPropertyOptional({ minLength: 1, maxLength: 200, description: 'Default: the email', example: 'minnie-mouse' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  username?: string;

  @ApiProperty({ type: () => ProfileDto })
  @IsObject()
  @ValidateNested()
  @Type(() => ProfileDto)
  profile!: ProfileDto;

  @ApiProperty({ type: () => EmailDto })
  @IsObject()
  @ValidateNested()
  @Validate(VerificationOneOf)
  @Type(() => EmailDto)
  email!: EmailDto;
}
