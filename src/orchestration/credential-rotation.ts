import { z } from 'zod';
import { getConnection, ownedConnection, replaceCredentials } from '../model/connections/connections.ts';
import { conflict } from '../model/store/errors.ts';
import { seal } from '../model/store/secrets.ts';
import { providerModule } from '../providers/index.ts';
import { connectionSettingsSchema } from '../sync/settings.ts';
import { connectorFor, crmReach, pacerFor } from './connectors.ts';
import { accountOf, credentialsInput, credentialsOf, type CredentialDeps } from './credential-input.ts';
import { requireKeyring } from './deps.ts';
import { assertBaseUrl } from './setup-problems.ts';

export const credentialRotationSchema = z.strictObject({ credentials: credentialsInput });

/** An API request waits at most this long for the connection's CRM budget. */
const API_PACE_WAIT_MS = 5_000;
/** The errors new credentials cure: the CRM refused the old ones. */
const AUTH_ERRORS = ['unauthorized', 'forbidden'];

/**
 * PUT /v1/connections/{id}/credentials: new credentials (or an OAuth code to re-grant), checked
 * against the CRM like a new connection's, and only for the same CRM account (409 otherwise).
 * Links, bases, settings and the webhook registration stay; the credentials are sealed with the
 * current key; a connection stopped because the CRM refused the old credentials is active again.
 */
export async function rotateCredentials(deps: CredentialDeps, accountId: string, id: string, given: Record<string, unknown>) {
  const keyring = requireKeyring(deps);
  const row = await ownedConnection(deps.db, accountId, id);
  const module = providerModule(row.provider);
  const settings = connectionSettingsSchema.parse(row.settings);
  const allowedHosts = deps.crmBaseUrlHosts ?? [];
  assertBaseUrl(row.provider, settings.baseUrl, allowedHosts, 'settings.baseUrl');
  const credentials = await credentialsOf(deps, row.provider, given, settings.baseUrl);
  const pacer = pacerFor(deps.redis, deps.prefix, id, row.provider, settings, API_PACE_WAIT_MS);
  const account = await accountOf(row.provider, connectorFor(row.provider, credentials, settings.baseUrl, pacer, crmReach(deps)), settings.baseUrl);
  if (account.remoteAccountId !== row.remoteAccountId) {
    throw conflict(`these credentials open ${module.label} account ${account.remoteAccountId}, not this connection's (${row.remoteAccountId})`, {}, [
      { field: 'credentials', message: `belong to another ${module.label} account` },
    ]);
  }
  const secretField = module.webhooks.secretField;
  const webhookSecret = secretField && typeof credentials[secretField] === 'string' ? seal(credentials[secretField], keyring).sealed : undefined;
  const lastError = row.lastError as { code?: string } | null;
  const sealed = seal(JSON.stringify(credentials), keyring);
  await replaceCredentials(deps.db, id, {
    credentials: sealed.sealed,
    credentialsKeyId: sealed.keyId,
    webhookSecret,
    reactivate: row.status === 'error' && AUTH_ERRORS.includes(lastError?.code ?? ''),
  });
  return getConnection(deps.db, accountId, id);
}
