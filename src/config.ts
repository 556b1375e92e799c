import { z } from 'zod';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function urlWithProtocol(protocols: string[]) {
  return z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );
}

/** 32 bytes for AES-256-GCM, given as 64 hex characters or base64. */
const encryptionKey = z.string().refine((value) => decodeKey(value) !== undefined, {
  message: 'must be 32 bytes, written as 64 hex characters or as base64',
});

export function decodeKey(value: string): Buffer | undefined {
  const bytes = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  return bytes.length === 32 ? bytes : undefined;
}

/** A comma-separated list of hosts (host, host:port or CIDR), trimmed, none empty. */
const hostList = z
  .string()
  .transform((value) => value.split(',').map((host) => host.trim().toLowerCase()))
  .refine((hosts) => hosts.every((host) => /^[a-z0-9.:[\]/*-]+$/.test(host)), { message: 'must be comma-separated hosts, host:port or CIDR ranges' });

const envSchema = z.object({
  DATABASE_URL: urlWithProtocol(['postgres:', 'postgresql:']).default('postgres://127.0.0.1:5432/crm_sync'),
  REDIS_URL: urlWithProtocol(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  PORT: z.coerce.number({ error: 'must be a port number' }).int('must be a port number').min(0).max(65535).default(3000),
  // Loopback by default so a developer machine never exposes the API by accident; containers set 0.0.0.0.
  HOST: z.string().min(1).default('127.0.0.1'),
  // Optional until a feature that stores secrets is used; when set it must be a valid key.
  ENCRYPTION_KEY: encryptionKey.optional(),
  // Earlier ENCRYPTION_KEYs, comma-separated: secrets they sealed still open until re-sealed.
  ENCRYPTION_KEYS_RETIRED: z
    .string()
    .refine((value) => value.split(',').every((key) => decodeKey(key.trim()) !== undefined), {
      message: 'must be comma-separated keys of 32 bytes (64 hex characters or base64)',
    })
    .optional(),
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  LOG_LEVEL: z.enum(logLevels).default('info'),
  // How long a flush's claim on dirty rows lasts: a crashed worker's rows wait this long. Longer than any flush.
  OUTBOUND_LEASE_SECONDS: z.coerce.number().int().min(1).default(60),
  // How often the sweeper looks for dirty rows that no queued flush will pick up.
  SWEEP_SECONDS: z.coerce.number().int().min(1).default(15),
  // Where the CRMs reach this service's webhook receivers; defaults to this process's own address.
  PUBLIC_URL: urlWithProtocol(['http:', 'https:']).optional(),
  // A public HubSpot app (OAuth connections and webhook signatures). Private-app connections bring their own secret.
  HUBSPOT_APP_ID: z.coerce.number().int().positive().optional(),
  HUBSPOT_CLIENT_ID: z.string().min(1).optional(),
  HUBSPOT_CLIENT_SECRET: z.string().min(1).optional(),
  // That app's developer API key (the developer account's, not a portal's): registers its webhook subscriptions.
  HUBSPOT_DEVELOPER_API_KEY: z.string().min(1).optional(),
  // A Pipedrive OAuth app, for connections made with an authorization code.
  PIPEDRIVE_CLIENT_ID: z.string().min(1).optional(),
  PIPEDRIVE_CLIENT_SECRET: z.string().min(1).optional(),
  // Operator-only: hosts (host or host:port, comma-separated) a connection's baseUrl may point at, for
  // sandboxes and tests. Unset, baseUrl cannot be set at all and every CRM is reached at its own API root.
  CRM_BASE_URL_HOSTS: hostList.optional(),
  // Operator-only: hosts or CIDR ranges (comma-separated) of internal event receivers that subscriptions may
  // target although they resolve to loopback, private or link-local addresses (refused by default).
  EVENT_TARGET_ALLOWED: hostList.optional(),
  // Every CRM request: time to connect, and time for the whole answer; a timed-out call is retried later.
  CRM_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(1).default(5_000),
  CRM_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(1).default(30_000),
  // Prefix of every Redis key (queues, budgets), so two installs can share one Redis. A Redis Cluster
  // deployment writes it as a hash tag, e.g. {crm-sync}, so each queue's keys share a slot.
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.{}-]+$/, 'must be letters, digits, _ . - and optionally one {hash tag}')
    .refine((value) => !/[{}]/.test(value) || /^[^{}]*\{[^{}]+\}[^{}]*$/.test(value), { message: 'must hold at most one non-empty, balanced {hash tag}, e.g. {crm-sync}' })
    .default('crm-sync'),
  // Admin console sessions: the longest a session lasts from login, and failed logins allowed per client per minute.
  ADMIN_SESSION_HOURS: z.coerce.number().min(0.01).max(24 * 7).default(12),
  ADMIN_LOGIN_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).default(10),
});

export type Config = z.infer<typeof envSchema>;

export class ConfigError extends Error {}

/** Parses the environment; an empty variable counts as unset so `FOO=` falls back to the default. */
export function parseConfig(env: NodeJS.ProcessEnv): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = envSchema.safeParse(present);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${String(issue.path[0])} ${issue.message}`);
  throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
}

let loaded: Config | undefined;

/** The configuration of this process, parsed on first use and never again. */
export function config(): Config {
  loaded ??= parseConfig(process.env);
  return loaded;
}

/** The keys that seal and open secrets at rest; a clear error when ENCRYPTION_KEY is not set. */
export function keyring(cfg: Config): { current: Buffer; retired: Buffer[] } {
  if (!cfg.ENCRYPTION_KEY) throw new ConfigError('invalid environment: ENCRYPTION_KEY is required to store CRM credentials');
  const retired = (cfg.ENCRYPTION_KEYS_RETIRED ?? '').split(',').filter((k) => k.trim() !== '');
  return { current: decodeKey(cfg.ENCRYPTION_KEY)!, retired: retired.map((k) => decodeKey(k.trim())!) };
}

export function publicUrl(cfg: Config): string {
  return (cfg.PUBLIC_URL ?? `http://${cfg.HOST}:${cfg.PORT}`).replace(/\/+$/, '');
}

/** The operator's app secret per CRM, where one signs webhooks (a public HubSpot app signs with its client secret). */
export function appSecrets(cfg: Config) {
  return { hubspot: cfg.HUBSPOT_CLIENT_SECRET };
}

/** The OAuth apps configured for code exchange and token refresh. */
export function oauthApps(cfg: Config) {
  const app = (clientId?: string, clientSecret?: string) => (clientId && clientSecret ? { clientId, clientSecret } : undefined);
  return { hubspot: app(cfg.HUBSPOT_CLIENT_ID, cfg.HUBSPOT_CLIENT_SECRET), pipedrive: app(cfg.PIPEDRIVE_CLIENT_ID, cfg.PIPEDRIVE_CLIENT_SECRET) };
}

/** HubSpot's developer app: its id and developer API key, or an error naming each variable missing. */
function hubspotDeveloperApp(cfg: Config): { appId: string; developerKey: string } {
  const missing = [cfg.HUBSPOT_APP_ID ? undefined : 'HUBSPOT_APP_ID', cfg.HUBSPOT_DEVELOPER_API_KEY ? undefined : 'HUBSPOT_DEVELOPER_API_KEY'].filter((name) => name !== undefined);
  if (missing.length > 0) {
    throw new ConfigError(`invalid environment: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} required to register HubSpot webhook subscriptions (the app's id and its developer API key, from the HubSpot developer account that owns the app)`);
  }
  return { appId: String(cfg.HUBSPOT_APP_ID), developerKey: cfg.HUBSPOT_DEVELOPER_API_KEY! };
}

/** The CRMs with a developer app whose subscriptions crm-sync manages, and how each is configured. */
const developerApps: Record<string, (cfg: Config) => { appId: string; developerKey: string }> = { hubspot: hubspotDeveloperApp };

/**
 * The CRM app whose webhook subscriptions `crm-sync webhook-subscriptions --register` manages: its id
 * and developer API key, or an error naming each variable that is missing.
 */
export function developerApp(cfg: Config, provider: string): { appId: string; developerKey: string } {
  const app = developerApps[provider];
  if (!app) throw new ConfigError(`${provider} has no developer app whose webhook subscriptions crm-sync registers`);
  return app(cfg);
}
