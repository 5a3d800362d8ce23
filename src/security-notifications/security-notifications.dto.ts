import { Type } from 'class-transformer';
import { IsObject, IsOptional, ValidateNested } from 'class-validator';
import { ListQueryDto } from '../http-edge/list-query.dto';

export class ListSecurityNotificationsDto {
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => ListQueryDto)
  query?: ListQueryDto;
}
