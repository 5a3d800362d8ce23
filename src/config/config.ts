import { resolve } from 'node:path';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

export interface OidcConfig {
  issuer?: string;
  audience?: string;
  jwksUri?: string;
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** Unset: the embedded SQLite store in dataDir. */
  databaseUrl?: string;
  /** Set: events live in EventStoreDB; read models stay in the databaseUrl store. */
  eventStoreConnectionString?: string;
  oidc: OidcConfig;
  /** True when no OIDC setting is given: a local signing key in dataDir is trusted. */
  developmentAuth: boolean;
  production: boolean;
  logLevel: LogLevel;
}

/** A bad setting, named so that an operator can fix it without reading code. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function port(env: Env, name: string, fallback: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 0 || value > 65535) {
    throw new ConfigError(name, `must be a port number from 0 to 65535, got "${raw}"`);
  }
  return value;
}

function url(env: Env, name: string, protocols: readonly string[]): string | undefined {
  const raw = optional(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be a URL (${protocols.join(', ')}), got "${raw}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use one of ${protocols.join(', ')}, got "${parsed.protocol}"`);
  }
  return raw;
}

/** Reads and validates the whole configuration once, at start. */
export function loadConfig(env: Env = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const logLevel = (optional(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const oidc: OidcConfig = {
    issuer: url(env, 'OIDC_ISSUER', ['http:', 'https:']),
    audience: optional(env, 'OIDC_AUDIENCE'),
    jwksUri: url(env, 'OIDC_JWKS_URI', ['http:', 'https:', 'file:']),
  };
  const developmentAuth = !oidc.issuer && !oidc.audience && !oidc.jwksUri;
  if (developmentAuth && production) {
    throw new ConfigError(
      'OIDC_ISSUER',
      'NODE_ENV=production needs OIDC settings (OIDC_ISSUER, and OIDC_JWKS_URI unless the issuer serves discovery); ' +
        'development tokens are refused in production',
    );
  }
  if (!developmentAuth && !oidc.issuer) {
    throw new ConfigError('OIDC_ISSUER', 'must be set when OIDC_AUDIENCE or OIDC_JWKS_URI is: tokens are checked against it');
  }
  return {
    port: port(env, 'PORT', 8080),
    host: optional(env, 'HOST') ?? '0.0.0.0',
    dataDir: resolve(optional(env, 'DATA_DIR') ?? './data'),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    eventStoreConnectionString: url(env, 'EVENTSTORE_CONNECTION_STRING', ['esdb:', 'esdb+discover:']),
    oidc,
    developmentAuth,
    production,
    logLevel: logLevel as LogLevel,
  };
}
