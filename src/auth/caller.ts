/** Who is calling, as the verified token says. */
export interface Caller {
  /** `sub`: the caller's user id. */
  userId: string;
  /** `urn:zitadel:iam:user:resourceowner:id`: the caller's organization, when the token names it. */
  orgId?: string;
  /** `urn:zitadel:iam:org:project:roles`: role name to the ids of the organizations it is granted in. */
  roles: Readonly<Record<string, readonly string[]>>;
  /** From this time (epoch ms) the token is refused: its expiry plus the allowed clock skew. */
  validUntil?: number;
}

export const ROLES_CLAIM = 'urn:zitadel:iam:org:project:roles';
export const RESOURCE_OWNER_CLAIM = 'urn:zitadel:iam:user:resourceowner:id';

/** Reads a caller from verified JWT claims; null when `sub` is missing. */
export function callerFromClaims(claims: Record<string, unknown>): Caller | null {
  const sub = claims.sub;
  if (typeof sub !== 'string' || sub === '') return null;
  const orgId = claims[RESOURCE_OWNER_CLAIM];
  // Without a prototype, a role named like one of Object's members ("constructor", "__proto__")
  // is a role like any other: it names nothing the service grants.
  const roles: Record<string, string[]> = Object.create(null);
  const granted = claims[ROLES_CLAIM];
  if (granted && typeof granted === 'object' && !Array.isArray(granted)) {
    for (const [role, orgs] of Object.entries(granted as Record<string, unknown>)) {
      roles[role] = orgs && typeof orgs === 'object' && !Array.isArray(orgs) ? Object.keys(orgs) : [];
    }
  }
  return { userId: sub, orgId: typeof orgId === 'string' && orgId !== '' ? orgId : undefined, roles };
}
