import { Transform } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, Max, Min } from 'class-validator';

/** Largest page a list answers. */
export const MAX_LIST_LIMIT = 1000;
/** Largest offset: beyond it a list is empty anyway, and larger numbers overflow the databases. */
export const MAX_LIST_OFFSET = 1_000_000_000;
export const DEFAULT_LIST_LIMIT = 100;

/** The page size a list answers: 0 or none is protobuf's "not given", read as ZITADEL reads it. */
export const listLimit = (limit: number | undefined): number => Math.min(limit || DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT);

/** Protobuf JSON takes an integer as a number or as a string of digits (a uint64 is written as one). */
const integer = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;

/** zitadel.v1.ListQuery, as every list's body takes it. */
export class ListQueryDto {
  @IsOptional()
  @Transform(integer)
  @IsInt()
  @Min(0)
  @Max(MAX_LIST_OFFSET)
  offset?: number;

  @IsOptional()
  @Transform(integer)
  @IsInt()
  @Min(0)
  @Max(MAX_LIST_LIMIT)
  limit?: number;

  @IsOptional()
  @IsBoolean()
  asc?: boolean;
}
