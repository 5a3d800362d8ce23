import { Command } from '@nestjs/cqrs';
import { RequestContext } from '../../auth/auth.guard';
import { Details } from '../read-models/details';

export class RemoveOTPEmailCommand extends Command<Details> {
  constructor(
    readonly userId: string,
    readonly context: RequestContext,
  ) {
    super();
  }
}
