import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { RemoteAccount } from '../providers/types.ts';
import { initialReconcileState } from '../model/connections/reconcile-state.ts';
import type { ConnectionSettings } from '../sync/settings.ts';
import { insertConnection } from '../model/connections/connections.ts';
import { markAllDirty } from '../model/sync-state/outbox.ts';
import { providers } from '../model/store/schema.ts';
import { providerModule, webhookUrl } from '../providers/index.ts';
import { seal } from '../model/store/secrets.ts';
import { accountUsers } from '../model/accounts/users.ts';
import { connectorFor, crmReach, pacerFor } from './connectors.ts';
import { accountOf, credentialsInput, credentialsOf, type CredentialDeps } from './credential-input.ts';
import { requireKeyring } from './deps.ts';
import { checkedSettings } from './settings-update.ts';
import { assertBaseUrl, setupProblem } from './setup-problems.ts';

export const connectionCreateSchema = z.strictObject({
  provider: z.enum(providers),
  credentials: credentialsInput,
  baseUrl: z.url().optional().describe('Operator-only: accepted only for a host listed in CRM_BASE_URL_HOSTS (sandboxes, tests) or the CRM\'s own API root'),
  settings: z.record(z.string(), z.unknown()).optional(),
  /**
   * push (the default): every opportunity goes to the new CRM. backfill: the CRM already holds the
   * account's deals, so import and match them first; only what is still unlinked is pushed after.
   */
  initialSync: z.enum(['push', 'backfill']).default('push'),
});
/** As callers give it: initialSync may be left out. */
export type ConnectionCreate = Omit<z.input<typeof connectionCreateSchema>, 'credentials'> & { credentials: Record<string, unknown> };

export interface SetupDeps extends CredentialDeps {
  publicUrl: string;
}

/** The canonical key of each CRM's first pipeline. */
const DEFAULT_PIPELINE = 'default';

const slug = (label: string) => label.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');

/** The first pipeline is "default"; another one labelled "Default" must not take its key. */
function pipelineKey(pipeline: { id: string; label: string }, index: number) {
  if (index === 0) return DEFAULT_PIPELINE;
  const key = slug(pipeline.label) || `pipeline_${pipeline.id}`;
  return key === DEFAULT_PIPELINE ? `${key}_${pipeline.id}` : key;
}

/**
 * Defaults that make a new connection useful at once: canonical stages named after the CRM's stage
 * labels (so "Qualified" in HubSpot and in Pipedrive meet), the CRM's first pipeline as the
 * canonical "default" pipeline (every CRM has one, so a one-pipeline account syncs its pipeline at
 * once) and its other pipelines by label, the CRM's won/lost stages, and owners matched to users
 * by email. Anything given in `settings` wins.
 */
function defaultSettings(account: RemoteAccount, users: { id: string; email: string }[], canonicalIdField: string) {
  const [first] = account.pipelines;
  const open = (first?.stages ?? []).filter((s) => !s.won && !s.lost).sort((a, b) => a.order - b.order);
  const closedStages: ConnectionSettings['closedStages'] = {};
  for (const pipeline of account.pipelines) {
    const won = pipeline.stages.find((s) => s.won);
    const lost = pipeline.stages.find((s) => s.lost);
    if (won && lost) closedStages[pipeline.id] = { won: won.id, lost: lost.id };
  }
  return {
    canonicalIdField,
    defaultPipelineId: first?.id ?? '',
    pipelines: account.pipelines.map((p, i) => ({ pipeline: pipelineKey(p, i), pipelineId: p.id })),
    stages: open.map((s) => ({ stage: slug(s.label), pipelineId: first!.id, stageId: s.id })),
    closedStages,
    owners: users.flatMap((u) => {
      const owner = account.owners.find((o) => o.email === u.email.toLowerCase());
      return owner ? [{ userId: u.id, ownerId: owner.id }] : [];
    }),
  };
}

/** Checks the credentials, prepares the CRM, registers webhooks and stores the connection sealed. */
export async function createConnection(deps: SetupDeps, accountId: string, input: ConnectionCreate) {
  const keyring = requireKeyring(deps);
  const allowedHosts = deps.crmBaseUrlHosts ?? [];
  assertBaseUrl(input.provider, input.baseUrl, allowedHosts, 'baseUrl');
  assertBaseUrl(input.provider, input.settings?.baseUrl, allowedHosts, 'settings.baseUrl');
  const baseUrl = input.baseUrl ?? (input.settings?.baseUrl as string | undefined);
  const id = randomUUID();
  const credentials = await credentialsOf(deps, input.provider, input.credentials, baseUrl);
  const pacer = pacerFor(deps.redis, deps.prefix, id, input.provider, { limits: {} });
  const connector = connectorFor(input.provider, credentials, baseUrl, pacer, crmReach(deps));
  const crmFailure = setupProblem(input.provider, baseUrl);
  const account = await accountOf(input.provider, connector, baseUrl);
  const canonicalIdField = await connector.prepare().catch(crmFailure);
  const defaults = defaultSettings(account, await accountUsers(deps.db, accountId), canonicalIdField);
  const settings = await checkedSettings(deps, accountId, connector, { ...defaults, baseUrl, ...input.settings }, Object.keys(input.settings ?? {}), 'settings', account);

  const webhook = await providerModule(input.provider)
    .webhooks.setup({ connectionId: id, url: webhookUrl(deps.publicUrl, input.provider, id), credentials, connector, appSecret: deps.appSecrets?.[input.provider] })
    .catch(crmFailure);
  const sealed = seal(JSON.stringify(credentials), keyring);
  const view = await deps.db.transaction(async (tx) => {
    const created = await insertConnection(tx, {
      id,
      accountId,
      provider: input.provider,
      credentials: sealed.sealed,
      credentialsKeyId: sealed.keyId,
      webhookSecret: webhook.secret ? seal(webhook.secret, keyring).sealed : null,
      remoteAccountId: account.remoteAccountId,
      settings,
      reconcileCursor: initialReconcileState(),
    });
    // What the account already has goes out to the new CRM too (after the backfill, when asked for one).
    if ((input.initialSync ?? 'push') === 'push') await markAllDirty(tx, accountId, id);
    return created;
  });
  return { ...view, webhook: webhook.view };
}
