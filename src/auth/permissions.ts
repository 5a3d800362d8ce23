import { Errors } from '../errors/errors';
import { Caller } from './caller';

export type Permission = 'user.read' | 'user.write' | 'user.credential.write' | 'user.delete' | 'projection.admin';

const USER_MANAGEMENT: readonly Permission[] = ['user.read', 'user.write', 'user.credential.write', 'user.delete'];

/** The contract's roles: what each grants, and whether in every organization or only those it is keyed by. */
const ROLES: Readonly<Record<string, { everywhere: boolean; permissions: readonly Permission[] }>> = {
  IAM_OWNER: { everywhere: true, permissions: [...USER_MANAGEMENT, 'projection.admin'] },
  IAM_USER_MANAGER: { everywhere: true, permissions: USER_MANAGEMENT },
  ORG_OWNER: { everywhere: false, permissions: USER_MANAGEMENT },
  ORG_USER_MANAGER: { everywhere: false, permissions: ['user.read', 'user.write', 'user.credential.write'] },
};

/** True when a role grants `permission` in every organization. */
export function hasEverywhere(caller: Caller, permission: Permission): boolean {
  return Object.keys(caller.roles).some((role) => {
    const grant = ROLES[role];
    return grant?.everywhere === true && grant.permissions.includes(permission);
  });
}

export function hasInOrg(caller: Caller, permission: Permission, orgId: string): boolean {
  return Object.entries(caller.roles).some(([role, orgs]) => {
    const grant = ROLES[role];
    return grant !== undefined && grant.permissions.includes(permission) && (grant.everywhere || orgs.includes(orgId));
  });
}

export interface Target {
  userId: string;
  /** The target user's organization; undefined when the user does not exist. */
  orgId?: string;
}

/**
 * Throws 403 unless the caller may act on the target user. The API is no oracle for which ids
 * exist: for a missing user only callers whose permission covers every organization get through
 * (to a 404); everyone else gets the same 403 as for a user they may not touch.
 */
export function authorizeOnUser(caller: Caller, permission: Permission, target: Target, selfAllowed: boolean): void {
  if (selfAllowed && caller.userId === target.userId) return;
  const allowed =
    target.orgId === undefined ? hasEverywhere(caller, permission) : hasInOrg(caller, permission, target.orgId);
  if (!allowed) throw Errors.permissionDenied();
}

export function authorizeInOrg(caller: Caller, permission: Permission, orgId: string): void {
  if (!hasInOrg(caller, permission, orgId)) throw Errors.permissionDenied();
}

export function authorizeEverywhere(caller: Caller, permission: Permission): void {
  if (!hasEverywhere(caller, permission)) throw Errors.permissionDenied();
}
