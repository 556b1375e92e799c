import { ownedConnection, saveSettings } from '../model/connections/connections.ts';
import { markPushProblemsDirty } from '../model/sync-state/outbox.ts';
import { accountSide } from '../model/connections/settings-context.ts';
import type { CrmConnector, RemoteAccount } from '../providers/types.ts';
import { connectionSettingsSchema, type ConnectionSettings } from '../sync/settings.ts';
import { connectorFor, crmReach, pacerFor } from './connectors.ts';
import { freshCredentials } from './credentials.ts';
import type { SyncDeps } from './deps.ts';
import { needsCrm, settingsProblems, type CrmSide } from './settings-check.ts';
import { assertBaseUrl, fieldProblems, setupProblem } from './setup-problems.ts';

/** The settings that decide what a push can write: a change to one may cure a record's push problem. */
const MAPPING_KEYS = new Set(['stages', 'pipelines', 'defaultPipelineId', 'closedStages', 'owners', 'attributes', 'externalRefField', 'sourceField', 'directions']);

/** An API request waits at most this long for the connection's CRM budget before it is refused. */
const API_PACE_WAIT_MS = 5_000;

/**
 * Settings as a whole (shape first), then the keys given checked against the account and, when one
 * of them names something in the CRM, against what the CRM has now (read through the connector:
 * pipelines and stages, deal fields). A 400 lists every failing field path under `prefix`.
 */
export async function checkedSettings(
  deps: SyncDeps,
  accountId: string,
  connector: CrmConnector | (() => Promise<CrmConnector>),
  merged: Record<string, unknown>,
  keys: string[],
  prefix: string,
  known?: RemoteAccount,
): Promise<ConnectionSettings> {
  const parsed = connectionSettingsSchema.safeParse(merged);
  if (!parsed.success) throw fieldProblems(prefix, parsed.error.issues);
  const settings = parsed.data;
  let crm: CrmSide | undefined;
  if (needsCrm(keys)) {
    const open = typeof connector === 'function' ? await connector() : connector;
    const read = async () => ({ account: known ?? (await open.account()), fields: await open.dealFields() });
    crm = await read().catch(setupProblem(open.provider, settings.baseUrl));
  }
  const errors = settingsProblems(settings, keys, await accountSide(deps.db, accountId), crm);
  if (errors.length) throw fieldProblems(prefix, errors.map((e) => ({ path: e.field.split('.'), message: e.message })));
  return settings;
}

/**
 * PATCH /v1/connections/{id}: each top-level key given replaces that key's value whole (a list or
 * map given is the new list or map, not merged into the old one); keys left out keep their values.
 * When a mapping changed, the records a push to this connection found problems with are pushed
 * again under the new settings (the API's onResponse hook asks for the flush).
 */
export async function updateConnectionSettings(deps: SyncDeps, accountId: string, id: string, patch: Record<string, unknown>) {
  const row = await ownedConnection(deps.db, accountId, id);
  assertBaseUrl(row.provider, patch.baseUrl, deps.crmBaseUrlHosts ?? [], 'baseUrl');
  const current = connectionSettingsSchema.parse(row.settings);
  const merged = { ...(row.settings as Record<string, unknown>), ...patch };
  const connector = async () => {
    const credentials = await freshCredentials(deps, id, row);
    const pacer = pacerFor(deps.redis, deps.prefix, id, row.provider, current, API_PACE_WAIT_MS);
    return connectorFor(row.provider, credentials, merged.baseUrl as string | undefined, pacer, crmReach(deps));
  };
  const settings = await checkedSettings(deps, accountId, connector, merged, Object.keys(patch), '', undefined);
  return deps.db.transaction(async (tx) => {
    const saved = await saveSettings(tx, accountId, id, settings);
    if (Object.keys(patch).some((k) => MAPPING_KEYS.has(k))) await markPushProblemsDirty(tx, id);
    return saved;
  });
}
