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
  /** gRPC over HTTP/2 cleartext; Connect and gRPC-web are served on `port`. */
  grpcPort: number;
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
  /** Protection of the HTTP server; see README, Operations. */
  http: HttpLimits;
  /** /readyz fails when a projection is more events than this behind the log. */
  readyMaxLagEvents: number;
  /** Comment lines on /v2/events/_stream this often keep idle streams (and proxies) open; default 15000. */
  eventsStreamHeartbeatMs?: number;
  /** Event streams one caller (token subject) may hold open, and all callers together. */
  eventsStreamMaxPerCaller: number;
  eventsStreamMax: number;
  /** Most appends that share one transaction (group commit); 1 commits each on its own. Unset: the backend's default. */
  appendGroupMax?: number;
  /** Long streams whose folded state commands keep between them; 0 keeps none. */
  stateCacheSize: number;
  /** Web pages (origins) that may call the service from a browser; empty: none (no CORS headers at all). */
  corsAllowedOrigins: string[];
  /** Delivery of events to Actions v2 targets; see README, Actions. */
  actions: ActionsConfig;
}

export interface ActionsConfig {
  /** Wait before the second try of a failed delivery; doubled per try, with jitter. */
  retryInitialMs: number;
  /** Longest wait between two tries. */
  retryMaxMs: number;
  /** Failed tries after which a delivery is parked. */
  maxAttempts: number;
  /** Requests one target may have in flight at once. */
  maxInFlightPerTarget: number;
  /** `instanceID` of the event bodies. */
  instanceId: string;
  /** How long a delivered delivery is kept for admins to search; 0: for ever. */
  deliveredRetentionMs: number;
  /** Seals targets' signing keys in the log and the outbox; unset: they are kept as they are. */
  signingKeySecret?: string;
}

export interface HttpLimits {
  bodyLimitBytes: number;
  /** Time a client has to send a whole request (slow clients answer 408); 0 is no limit. */
  requestTimeoutMs: number;
  /** A socket without traffic for this long is closed; 0 is no limit. */
  connectionTimeoutMs: number;
  /** How long an idle keep-alive connection is kept open. */
  keepAliveTimeoutMs: number;
  /** Requests one caller (token subject, else IP) may make per minute; 0 is no limit. */
  rateLimitPerMinute: number;
  /** Calls one HTTP/2 connection of the gRPC port may have open at once. */
  maxConcurrentStreams: number;
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

function integer(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got "${raw}"`);
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

/**
 * EventStoreDB connection strings list gossip seeds as `host1:2113,host2:2113`, which no URL parser
 * accepts, so only the scheme and the presence of a host are checked here; the client parses the
 * rest when the store opens. The value is never echoed: it may hold a password.
 */
function esdbConnectionString(env: Env, name: string): string | undefined {
  const raw = optional(env, name);
  if (raw === undefined) return undefined;
  if (!/^esdb(\+discover)?:\/\/([^@/?#\s]+@)?[^@/?#\s,]+(,[^@/?#\s,]+)*\/?(\?\S*)?$/i.test(raw)) {
    throw new ConfigError(
      name,
      'must be an EventStoreDB connection string such as esdb://host:2113?tls=false, ' +
        'esdb://host1:2113,host2:2113,host3:2113 or esdb+discover://cluster.example.com:2113',
    );
  }
  return raw;
}

/** Comma-separated origins (`https://app.example.com`, `http://localhost:3000`): scheme, host and port, nothing more. */
function origins(env: Env, name: string): string[] {
  const raw = optional(env, name);
  if (raw === undefined) return [];
  return raw.split(',').map((entry) => {
    const origin = entry.trim();
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin) {
      throw new ConfigError(
        name,
        `must be comma-separated origins such as https://app.example.com or http://localhost:3000 (scheme, host and port; no path, no trailing slash), got "${origin}"`,
      );
    }
    return origin;
  });
}

function actionsConfig(env: Env): ActionsConfig {
  const retryInitialMs = integer(env, 'ACTIONS_RETRY_INITIAL_MS', 1000, 1, 86_400_000);
  const retryMaxMs = integer(env, 'ACTIONS_RETRY_MAX_MS', 3_600_000, 1, 7 * 86_400_000);
  if (retryMaxMs < retryInitialMs) {
    throw new ConfigError('ACTIONS_RETRY_MAX_MS', `must be at least ACTIONS_RETRY_INITIAL_MS (${retryInitialMs}), got "${retryMaxMs}"`);
  }
  const instanceId = optional(env, 'INSTANCE_ID') ?? 'default';
  if (!/^[\w.-]{1,200}$/.test(instanceId)) {
    throw new ConfigError('INSTANCE_ID', `must be 1 to 200 letters, digits, '.', '_' or '-', got "${instanceId}"`);
  }
  // Not trimmed: a secret is taken as it is given.
  const signingKeySecret = env.ACTIONS_SIGNING_KEY_SECRET || undefined;
  if (signingKeySecret !== undefined && signingKeySecret.length < 32) {
    throw new ConfigError('ACTIONS_SIGNING_KEY_SECRET', `must be at least 32 characters (random, kept outside the database), got ${signingKeySecret.length}`);
  }
  return {
    retryInitialMs,
    retryMaxMs,
    maxAttempts: integer(env, 'ACTIONS_MAX_ATTEMPTS', 20, 1, 1000),
    maxInFlightPerTarget: integer(env, 'ACTIONS_MAX_IN_FLIGHT_PER_TARGET', 4, 1, 1000),
    instanceId,
    deliveredRetentionMs: integer(env, 'ACTIONS_DELIVERED_RETENTION_HOURS', 168, 0, 87_600) * 3_600_000,
    signingKeySecret,
  };
}

/** Reads and validates the whole configuration once, at start. */
export function loadConfig(env: Env = process.env): Config {
  // `Production` or `production ` mean production too: a typo must not start a service in development mode.
  const production = (env.NODE_ENV ?? '').trim().toLowerCase() === 'production';
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
  const httpPort = port(env, 'PORT', 8080);
  const grpcPort = port(env, 'GRPC_PORT', 8081);
  if (grpcPort !== 0 && grpcPort === httpPort) {
    throw new ConfigError('GRPC_PORT', `must differ from PORT (both are ${grpcPort}): gRPC over HTTP/2 needs a port of its own`);
  }
  return {
    port: httpPort,
    grpcPort,
    host: optional(env, 'HOST') ?? '0.0.0.0',
    dataDir: resolve(optional(env, 'DATA_DIR') ?? './data'),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    eventStoreConnectionString: esdbConnectionString(env, 'EVENTSTORE_CONNECTION_STRING'),
    oidc,
    developmentAuth,
    production,
    logLevel: logLevel as LogLevel,
    http: {
      bodyLimitBytes: integer(env, 'BODY_LIMIT_BYTES', 64 * 1024, 1024, 64 * 1024 * 1024),
      requestTimeoutMs: integer(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 0),
      connectionTimeoutMs: integer(env, 'HTTP_CONNECTION_TIMEOUT_MS', 120_000, 0),
      keepAliveTimeoutMs: integer(env, 'HTTP_KEEP_ALIVE_TIMEOUT_MS', 72_000, 1),
      rateLimitPerMinute: integer(env, 'RATE_LIMIT_PER_MINUTE', 0, 0),
      maxConcurrentStreams: integer(env, 'GRPC_MAX_CONCURRENT_STREAMS', 100, 1, 10_000),
    },
    readyMaxLagEvents: integer(env, 'READY_MAX_LAG_EVENTS', 1000, 0),
    eventsStreamHeartbeatMs: integer(env, 'EVENTS_STREAM_HEARTBEAT_MS', 15_000, 10, 3_600_000),
    eventsStreamMaxPerCaller: integer(env, 'EVENTS_STREAM_MAX_PER_CALLER', 5, 1, 10_000),
    eventsStreamMax: integer(env, 'EVENTS_STREAM_MAX', 200, 1, 100_000),
    appendGroupMax: optional(env, 'APPEND_GROUP_MAX') === undefined ? undefined : integer(env, 'APPEND_GROUP_MAX', 1, 1, 10_000),
    stateCacheSize: integer(env, 'STATE_CACHE_SIZE', 10_000, 0, 1_000_000),
    corsAllowedOrigins: origins(env, 'CORS_ALLOWED_ORIGINS'),
    actions: actionsConfig(env),
  };
}
