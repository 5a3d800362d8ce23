// Prints a development token that the service accepts when it runs without OIDC settings.
// Only the token goes to stdout, so `TOKEN=$(npm run --silent token -- --sub 1 --org 2)` works.
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/config';
import { ROLE_NAMES } from '../src/auth/permissions';
import { signDevToken } from '../src/auth/token-verifier';

const USAGE = `usage: node dist/scripts/token.js --sub <userId> [--org <orgId>] [--role ROLE]... [--role-org <orgId>] [--expires 12h]
  --sub       the caller's user id (the token's sub)
  --org       the caller's organization; also the organization each --role is granted in
  --role      a role such as IAM_OWNER, IAM_USER_MANAGER, ORG_OWNER, ORG_USER_MANAGER; repeatable
  --role-org  grant the roles in this organization instead of --org
  --expires   lifetime such as 30m, 1h, 7d (default 12h)
The key is the service's: DATA_DIR/dev-signing-key.json (DATA_DIR defaults to ./data).`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        sub: { type: 'string' },
        org: { type: 'string' },
        role: { type: 'string', multiple: true },
        'role-org': { type: 'string' },
        expires: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.error(USAGE);
    return 0;
  }
  if (!values.sub) {
    console.error(`--sub is required\n${USAGE}`);
    return 2;
  }

  const config = loadConfig();
  if (!config.developmentAuth) {
    console.error(
      'OIDC settings are configured (OIDC_ISSUER, OIDC_AUDIENCE or OIDC_JWKS_URI), so the service accepts only ' +
        "tokens from that issuer and would refuse this script's tokens. Get a token from the issuer, or unset " +
        'the OIDC settings to run in development mode.',
    );
    return 2;
  }

  const roleOrg = values['role-org'] ?? values.org;
  const roles = values.role ?? [];
  const unknown = roles.filter((role) => !ROLE_NAMES.includes(role));
  if (unknown.length > 0) {
    // A misspelt role would make a token that grants nothing, and a 403 that is hard to explain.
    console.error(`unknown role ${unknown.join(', ')}: the roles are ${ROLE_NAMES.join(', ')}`);
    return 2;
  }
  const unscoped = roles.filter((role) => !role.startsWith('IAM_'));
  if (!roleOrg && unscoped.length > 0) {
    console.error(`${unscoped.join(', ')} must be granted in an organization: pass --org or --role-org`);
    return 2;
  }
  let token: string;
  try {
    token = await signDevToken(config.dataDir, {
      sub: values.sub,
      org: values.org,
      roles: Object.fromEntries(roles.map((role) => [role, roleOrg ? [roleOrg] : []])),
      expiresIn: values.expires,
    });
  } catch (err) {
    // jose rejects a bad time span with a bare TypeError that does not say which option was wrong.
    if (!(err instanceof TypeError) || values.expires === undefined) throw err;
    console.error(`--expires "${values.expires}": ${err.message}; use e.g. 30m, 1h or 7d`);
    return 2;
  }
  process.stdout.write(`${token}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
