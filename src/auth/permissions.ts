import { Errors } from '../errors/errors';
import { Caller } from './caller';

export type Permission = 'user.read' | 'user.write' | 'user.credential.write' | 'user.delete' | 'projection.admin' | 'action.admin';

const USER_MANAGEMENT: readonly Permission[] = ['user.read', 'user.write', 'user.credential.write', 'user.delete'];

/**
 * The contract's roles: what each grants, and whether in every organization or only those it is
 * keyed by. A Map, so that a role named like an object's member ("constructor") finds nothing.
 */
const ROLES: ReadonlyMap<string, { everywhere: boolean; permissions: readonly Permission[] }> = new Map([
  ['IAM_OWNER', { everywhere: true, permissions: [...USER_MANAGEMENT, 'projection.admin', 'action.admin'] }],
  ['IAM_USER_MANAGER', { everywhere: true, permissions: USER_MANAGEMENT }],
  ['ORG_OWNER', { everywhere: false, permissions: USER_MANAGEMENT }],
  ['ORG_USER_MANAGER', { everywhere: false, permissions: ['user.read', 'user.write', 'user.credential.write'] }],
]);

/** True when a role grants `permission` in every organization. */
export function hasEverywhere(caller: Caller, permission: Permission): boolean {
  return Object.keys(caller.roles).some((role) => {
    const grant = ROLES.get(role);
    return grant?.everywhere === true && grant.permissions.includes(permission);
  });
}

export function hasInOrg(caller: Caller, permission: Permission, orgId: string): boolean {
  return Object.entries(caller.roles).some(([role, orgs]) => {
    const grant = ROLES.get(role);
    return grant !== undefined && grant.permissions.includes(permission) && (grant.everywhere || (Array.isArray(orgs) && orgs.includes(orgId)));
  });
}

/** The role names the contract knows. */
export const ROLE_NAMES: readonly string[] = [...ROLES.keys()];

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
