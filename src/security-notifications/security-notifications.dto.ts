import { Type } from 'class-transformer';
import { IsOptional, ValidateNested } from 'class-validator';
import { ListQueryDto } from '../http-edge/list-query.dto';

export class ListSecurityNotificationsDto {
  @IsOptional()
  @ValidateNested()
  @Type(() => ListQueryDto)
  query?: ListQueryDto;
}
