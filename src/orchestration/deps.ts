import type { Redis } from 'ioredis';
import type { Database } from '../model/store/db.ts';
import type { Provider } from '../model/store/schema.ts';
import { DomainError } from '../model/store/errors.ts';
import type { Keyring } from '../model/store/secrets.ts';
import type { OAuthApp } from '../providers/types.ts';
import type { CrmTimeouts } from '../providers/timeouts.ts';

/** What the sync's use cases run on: the store, the shared Redis (budgets, locks) and the keys of secrets. */
export interface SyncDeps {
  db: Database;
  redis: Redis;
  prefix: string;
  /** Absent when ENCRYPTION_KEY is not set: then no connection can be made or used. */
  keyring: Keyring | undefined;
  leaseMs?: number;
  /** Workers set it: a request that would wait longer for its connection's budget delays its job instead. */
  maxPaceWaitMs?: number;
  /** OAuth apps, for refreshing OAuth connections' tokens. */
  oauthApps?: Partial<Record<Provider, OAuthApp>>;
  /** EVENT_TARGET_ALLOWED: internal event receivers the operator admits. */
  eventTargetsAllowed?: readonly string[] | undefined;
  /**
   * The operator's CRM_BASE_URL_HOSTS: hosts (host or host:port) a connection's baseUrl may point
   * at besides the CRM's own API (sandboxes, tests). Unset or empty: none.
   */
  crmBaseUrlHosts?: readonly string[];
  /** CRM_CONNECT_TIMEOUT_MS / CRM_REQUEST_TIMEOUT_MS: every CRM call's bounds (5 s to connect, 30 s in all when unset). */
  crmTimeouts?: CrmTimeouts;
}

export function requireKeyring(deps: { keyring: Keyring | undefined }): Keyring {
  if (!deps.keyring) throw new DomainError(503, 'Service Unavailable', 'ENCRYPTION_KEY is not set: crm-sync cannot store or use CRM credentials');
  return deps.keyring;
}
