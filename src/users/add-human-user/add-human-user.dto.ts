import { Type } from 'class-transformer';
import { IsBoolean, IsEmail, IsNotEmpty, IsObject, IsOptional, IsString, Length, ValidateNested } from 'class-validator';

export class OrganizationDto {
  @IsOptional()
  @IsString()
  @Length(1, 200)
  orgId?: string;
}

export class ProfileDto {
  @IsString()
  @Length(1, 200)
  givenName!: string;

  @IsString()
  @Length(1, 200)
  familyName!: string;
}

export class EmailDto {
  @IsString()
  @IsNotEmpty()
  @IsEmail({}, { message: 'must be a valid email address' })
  email!: string;

  @IsOptional()
  @IsBoolean()
  isVerified?: boolean;
}

/** AddHumanUserRequest, in protobuf JSON. */
export class AddHumanUserDto {
  @IsOptional()
  @IsString()
  @Length(1, 200)
  userId?: string;

  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => OrganizationDto)
  organization?: OrganizationDto;

  @IsOptional()
  @IsString()
  @Length(1, 200)
  username?: string;

  @IsObject()
  @ValidateNested()
  @Type(() => ProfileDto)
  profile!: ProfileDto;

  @IsObject()
  @ValidateNested()
  @Type(() => EmailDto)
  email!: EmailDto;
}
