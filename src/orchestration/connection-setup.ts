import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { CrmError } from '../providers/errors.ts';
import type { RemoteAccount } from '../providers/types.ts';
import { initialReconcileState } from '../model/connections/reconcile-state.ts';
import { connectionSettingsSchema, type ConnectionSettings } from '../sync/settings.ts';
import { insertConnection } from '../model/connections/connections.ts';
import { invalid } from '../model/store/errors.ts';
import { markAllDirty } from '../model/sync-state/outbox.ts';
import { providers, type Provider } from '../model/store/schema.ts';
import { providerModule, providerModules, webhookUrl } from '../providers/index.ts';
import { seal } from '../model/store/secrets.ts';
import { accountUsers } from '../model/accounts/users.ts';
import { connectorFor, pacerFor, type Credentials } from './connectors.ts';
import { grantTokens } from './credentials.ts';
import { requireKeyring, type SyncDeps } from './deps.ts';

const oauthCodeInput = z.strictObject({ oauthCode: z.string().min(1), redirectUri: z.url() });

export const connectionCreateSchema = z.strictObject({
  provider: z.enum(providers),
  // Each CRM's own credentials (its provider module says which), or an OAuth code for its app.
  credentials: z.union([oauthCodeInput, ...Object.values(providerModules).map((m) => m.credentialInput)]),
  baseUrl: z.url().optional(),
  settings: z.record(z.string(), z.unknown()).optional(),
  /**
   * push (the default): every opportunity goes to the new CRM. backfill: the CRM already holds the
   * account's deals, so import and match them first; only what is still unlinked is pushed after.
   */
  initialSync: z.enum(['push', 'backfill']).default('push'),
});
/** As callers give it: initialSync may be left out. */
export type ConnectionCreate = Omit<z.input<typeof connectionCreateSchema>, 'credentials'> & { credentials: Record<string, unknown> };

export interface SetupDeps extends SyncDeps {
  publicUrl: string;
  /** The operator's app secret per CRM (a public app signs webhooks with it), from the environment. */
  appSecrets?: Partial<Record<Provider, string>>;
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

function credentialProblem(error: unknown): never {
  if (error instanceof CrmError && ['unauthorized', 'forbidden', 'validation'].includes(error.code)) {
    throw invalid([{ field: 'credentials', message: `the CRM refused them (${error.status})` }]);
  }
  throw error;
}

/** Checks the credentials, prepares the CRM, registers webhooks and stores the connection sealed. */
export async function createConnection(deps: SetupDeps, accountId: string, input: ConnectionCreate) {
  const keyring = requireKeyring(deps);
  const id = randomUUID();
  const credentials = await credentialsOf(deps, input);
  const pacer = pacerFor(deps.redis, deps.prefix, id, input.provider, { limits: {} });
  const connector = connectorFor(input.provider, credentials, input.baseUrl, pacer);
  const account = await connector.account().catch(credentialProblem);
  const canonicalIdField = await connector.prepare();
  const defaults = defaultSettings(account, await accountUsers(deps.db, accountId), canonicalIdField);
  const parsed = connectionSettingsSchema.safeParse({ ...defaults, baseUrl: input.baseUrl, ...input.settings });
  if (!parsed.success) throw invalid(parsed.error.issues.map((i) => ({ field: ['settings', ...i.path.map(String)].join('.'), message: i.message })));

  const webhook = await providerModule(input.provider).webhooks.setup({
    connectionId: id,
    url: webhookUrl(deps.publicUrl, input.provider, id),
    credentials,
    connector,
    appSecret: deps.appSecrets?.[input.provider],
  });
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
      settings: parsed.data,
      reconcileCursor: initialReconcileState(),
    });
    // What the account already has goes out to the new CRM too (after the backfill, when asked for one).
    if ((input.initialSync ?? 'push') === 'push') await markAllDirty(tx, accountId, id);
    return created;
  });
  return { ...view, webhook: webhook.view };
}

/** The credentials to store: as given, when they are this CRM's kind, or the tokens an OAuth code is worth. */
async function credentialsOf(deps: SetupDeps, input: ConnectionCreate): Promise<Credentials> {
  const given = input.credentials;
  if ('oauthCode' in given && typeof given.oauthCode === 'string') {
    const grant = { code: given.oauthCode, redirectUri: String(given.redirectUri) };
    return grantTokens(input.provider, deps.oauthApps?.[input.provider], grant, input.baseUrl).catch(credentialProblem);
  }
  const module = providerModule(input.provider);
  const parsed = module.credentialInput.safeParse(given);
  if (!parsed.success) throw invalid([{ field: 'credentials', message: `these are not ${module.label} credentials: ${parsed.error.issues.map((i) => i.path.join('.') || i.message).join(', ')}` }]);
  return parsed.data as Credentials;
}
