import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, Max, Min, ValidateNested } from 'class-validator';

/** Largest page a list answers. */
export const MAX_LIST_LIMIT = 1000;
/** Largest offset: beyond it a list is empty anyway, and larger numbers overflow the databases. */
export const MAX_LIST_OFFSET = 1_000_000_000;
export const DEFAULT_LIST_LIMIT = 100;

/** A uint64 is a JSON string in protobuf JSON, and a number is accepted too. */
const uint64 = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;

/** zitadel.v1.ListQuery. */
export class ListQueryDto {
  @IsOptional()
  @Transform(uint64)
  @IsInt()
  @Min(0)
  @Max(MAX_LIST_OFFSET)
  offset?: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_LIST_LIMIT)
  limit?: number;

  @IsOptional()
  @IsBoolean()
  asc?: boolean;
}

export class ListSecurityNotificationsDto {
  @IsOptional()
  @ValidateNested()
  @Type(() => ListQueryDto)
  query?: ListQueryDto;
}
