import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ServiceError } from '../errors/service-error';
import { ROLES_CLAIM, callerFromClaims, type Caller } from './caller';
import {
  authorizeEverywhere,
  authorizeInOrg,
  authorizeOnUser,
  hasEverywhere,
  hasInOrg,
  type Permission,
} from './permissions';

const DENIED = 'AUTH-AWfge';
const ALL: readonly Permission[] = ['user.read', 'user.write', 'user.credential.write', 'user.delete', 'projection.admin'];

/** The contract's table: what each role grants, and whether in every organization. */
const MATRIX: Record<string, { everywhere: boolean; grants: readonly Permission[] }> = {
  IAM_OWNER: { everywhere: true, grants: ALL },
  IAM_USER_MANAGER: { everywhere: true, grants: ['user.read', 'user.write', 'user.credential.write', 'user.delete'] },
  ORG_OWNER: { everywhere: false, grants: ['user.read', 'user.write', 'user.credential.write', 'user.delete'] },
  ORG_USER_MANAGER: { everywhere: false, grants: ['user.read', 'user.write', 'user.credential.write'] },
};

function caller(roles: Record<string, string[]>, userId = 'caller-1'): Caller {
  return { userId, orgId: 'org-a', roles };
}

function deniedBy(fn: () => void): void {
  assert.throws(fn, (err: unknown) => err instanceof ServiceError && err.id === DENIED && err.httpStatus === 403);
}

describe('role matrix', () => {
  for (const [role, { everywhere, grants }] of Object.entries(MATRIX)) {
    for (const permission of ALL) {
      const granted = grants.includes(permission);
      it(`${role} ${granted ? 'grants' : 'does not grant'} ${permission}${everywhere ? ' everywhere' : ' in its organizations'}`, () => {
        const c = caller({ [role]: ['org-a'] });
        assert.equal(hasInOrg(c, permission, 'org-a'), granted);
        assert.equal(hasInOrg(c, permission, 'org-b'), granted && everywhere);
        assert.equal(hasEverywhere(c, permission), granted && everywhere);
      });
    }
  }

  it('grants nothing for unknown roles, or for organization roles keyed by no organization', () => {
    const c = caller({ PROJECT_OWNER: ['org-a'], iam_owner: ['org-a'], ORG_OWNER: [] });
    for (const permission of ALL) {
      assert.equal(hasInOrg(c, permission, 'org-a'), false);
      assert.equal(hasEverywhere(c, permission), false);
    }
  });

  it('combines roles: a role in one organization does not widen another', () => {
    const c = caller({ ORG_USER_MANAGER: ['org-a'], ORG_OWNER: ['org-b'] });
    assert.equal(hasInOrg(c, 'user.delete', 'org-a'), false);
    assert.equal(hasInOrg(c, 'user.delete', 'org-b'), true);
    assert.equal(hasInOrg(c, 'user.write', 'org-a'), true);
    assert.equal(hasInOrg(c, 'user.write', 'org-c'), false);
  });

  it('authorizeInOrg and authorizeEverywhere throw 403 AUTH-AWfge when not granted', () => {
    authorizeInOrg(caller({ ORG_OWNER: ['org-a'] }), 'user.write', 'org-a');
    deniedBy(() => authorizeInOrg(caller({ ORG_OWNER: ['org-a'] }), 'user.write', 'org-b'));
    authorizeEverywhere(caller({ IAM_OWNER: ['x'] }), 'projection.admin');
    deniedBy(() => authorizeEverywhere(caller({ IAM_USER_MANAGER: ['x'] }), 'projection.admin'));
    deniedBy(() => authorizeEverywhere(caller({ ORG_OWNER: ['org-a'] }), 'user.read'));
  });
});

describe('authorizeOnUser', () => {
  const existing = { userId: 'user-9', orgId: 'org-a' };
  const missing = { userId: 'user-404' };

  it('lets a caller act on itself when the endpoint allows self, without any role', () => {
    const self = caller({}, 'user-9');
    authorizeOnUser(self, 'user.write', existing, true);
    deniedBy(() => authorizeOnUser(self, 'user.write', existing, false));
  });

  it('checks the permission in the target user\'s organization', () => {
    authorizeOnUser(caller({ ORG_USER_MANAGER: ['org-a'] }), 'user.credential.write', existing, true);
    deniedBy(() => authorizeOnUser(caller({ ORG_USER_MANAGER: ['org-b'] }), 'user.credential.write', existing, true));
    deniedBy(() => authorizeOnUser(caller({ ORG_USER_MANAGER: ['org-a'] }), 'user.delete', existing, true));
    deniedBy(() => authorizeOnUser(caller({}), 'user.read', existing, true));
  });

  it('is no oracle: for a missing user only callers with the permission everywhere get past (to a 404)', () => {
    authorizeOnUser(caller({ IAM_OWNER: ['org-a'] }), 'user.write', missing, true);
    authorizeOnUser(caller({ IAM_USER_MANAGER: ['global'] }), 'user.delete', missing, false);
    // An organization owner would get 404 for a missing id but 403 for an existing user of another
    // organization; both must look the same, so both are 403.
    deniedBy(() => authorizeOnUser(caller({ ORG_OWNER: ['org-a'] }), 'user.write', missing, true));
    deniedBy(() => authorizeOnUser(caller({ ORG_OWNER: ['org-a', 'org-b'] }), 'user.read', missing, true));
    deniedBy(() => authorizeOnUser(caller({ ORG_OWNER: ['org-b'] }), 'user.write', existing, true));
    deniedBy(() => authorizeOnUser(caller({}), 'user.read', missing, true));
    // Permission everywhere, but not this one.
    deniedBy(() => authorizeOnUser(caller({ IAM_USER_MANAGER: ['global'] }), 'projection.admin', missing, true));
  });

  it('lets a caller that asks about its own missing id through: that reveals nothing', () => {
    authorizeOnUser(caller({}, 'user-404'), 'user.read', missing, true);
  });
});

describe('roles from any shape of claim', () => {
  const PROTOTYPE_NAMES = ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf', 'isPrototypeOf', 'toLocaleString'];
  const names = fc.constantFrom(...PROTOTYPE_NAMES, ...Object.keys(MATRIX), 'NOT_A_ROLE', 'org-a', 'org-b', '');
  /** A roles claim as a token could carry it: objects keyed by odd names, arrays, nulls, nesting. */
  const claim = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.double(),
      fc.string(),
      fc.array(tie('value'), { maxLength: 3 }),
      fc.dictionary(names, tie('value'), { maxKeys: 4 }),
    ),
  })).value;
  /** The same JSON as a token's payload parses it: keys like __proto__ become own properties. */
  const asParsed = (value: unknown) => JSON.parse(JSON.stringify({ [ROLES_CLAIM]: value, sub: 'caller-1' })) as Record<string, unknown>;

  it('never throws, and grants only what a role of the contract, named as an own key, grants', () => {
    fc.assert(
      fc.property(claim, fc.constantFrom(...ALL), fc.constantFrom('org-a', 'org-b', 'constructor', '__proto__'), (value, permission, orgId) => {
        const parsed = asParsed(value);
        const caller = callerFromClaims(parsed)!;
        const granted = parsed[ROLES_CLAIM];
        const keyedBy = (role: string): string[] => {
          if (!granted || typeof granted !== 'object' || Array.isArray(granted) || !Object.hasOwn(granted, role)) return [];
          const orgs = (granted as Record<string, unknown>)[role];
          return orgs && typeof orgs === 'object' && !Array.isArray(orgs) ? Object.keys(orgs) : [];
        };
        const named = (role: string) => !!granted && typeof granted === 'object' && !Array.isArray(granted) && Object.hasOwn(granted, role);
        const everywhere = Object.entries(MATRIX).some(([role, grant]) => grant.everywhere && grant.grants.includes(permission) && named(role));
        const inOrg = Object.entries(MATRIX).some(
          ([role, grant]) => grant.grants.includes(permission) && named(role) && (grant.everywhere || keyedBy(role).includes(orgId)),
        );
        assert.equal(hasEverywhere(caller, permission), everywhere);
        assert.equal(hasInOrg(caller, permission, orgId), inOrg);
        for (const check of [
          () => authorizeEverywhere(caller, permission),
          () => authorizeInOrg(caller, permission, orgId),
          () => authorizeOnUser(caller, permission, { userId: 'someone', orgId }, true),
          () => authorizeOnUser(caller, permission, { userId: 'someone' }, false),
        ]) {
          try {
            check();
          } catch (error) {
            assert.ok(error instanceof ServiceError && error.id === DENIED, `only a 403 may come out, not ${String(error)}`);
          }
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('names nothing with Object.prototype members as roles, for a missing user or one of another organization', () => {
    for (const name of PROTOTYPE_NAMES) {
      const caller = callerFromClaims(asParsed({ [name]: { 'org-a': 'a.localhost' } }))!;
      deniedBy(() => authorizeOnUser(caller, 'user.read', { userId: 'someone', orgId: 'org-b' }, true));
      deniedBy(() => authorizeOnUser(caller, 'user.read', { userId: 'someone' }, true));
    }
  });
});
