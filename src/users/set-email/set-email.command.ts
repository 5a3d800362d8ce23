import { Command } from '@nestjs/cqrs';
import { RequestContext } from '../../auth/auth.guard';
import { Details } from '../read-models/details';

export class SetEmailCommand extends Command<Details> {
  constructor(
    readonly userId: string,
    readonly email: string,
    readonly isVerified: boolean,
    readonly context: RequestContext,
  ) {
    super();
  }
}
