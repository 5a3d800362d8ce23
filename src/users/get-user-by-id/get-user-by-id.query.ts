import { Query } from '@nestjs/cqrs';
import { RequestContext } from '../../auth/auth.guard';
import { Details } from '../read-models/details';

export interface GetUserByIDResponse {
  details: Details;
  user: {
    userId: string;
    state: 'USER_STATE_ACTIVE';
    username: string;
    preferredLoginName: string;
    human: {
      profile: { givenName: string; familyName: string };
      email: { email: string; isVerified?: boolean };
    };
  };
}

export class GetUserByIDQuery extends Query<GetUserByIDResponse> {
  constructor(
    readonly userId: string,
    readonly context: RequestContext,
  ) {
    super();
  }
}
