import { Command } from '@nestjs/cqrs';
import { RequestContext } from '../../auth/auth.guard';
import { Details } from '../read-models/details';
import { AddHumanUserDto } from './add-human-user.dto';

export interface AddHumanUserResult {
  userId: string;
  details: Details;
}

export class AddHumanUserCommand extends Command<AddHumanUserResult> {
  constructor(
    readonly request: AddHumanUserDto,
    readonly context: RequestContext,
  ) {
    super();
  }
}
