import { Query } from '@nestjs/cqrs';
import { RequestContext } from '../../auth/auth.guard';

export interface AuthFactorJson {
  state: string;
  otpEmail: Record<string, never>;
}

/** `{}` when there is no factor: protobuf JSON leaves out an empty list. */
export type ListAuthenticationFactorsResponse = { result?: AuthFactorJson[] };

export class ListAuthenticationFactorsQuery extends Query<ListAuthenticationFactorsResponse> {
  constructor(
    readonly userId: string,
    readonly authFactors: readonly string[],
    readonly states: readonly string[],
    readonly context: RequestContext,
  ) {
    super();
  }
}
