import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { CrmError } from '../providers/errors.ts';
import type { RemoteAccount } from '../providers/types.ts';
import { initialReconcileState } from '../model/connections/reconcile-state.ts';
import { connectionSettingsSchema, type ConnectionSettings } from '../model/connections/connection-settings.ts';
import { insertConnection } from '../model/connections/connections.ts';
import { invalid } from '../model/store/errors.ts';
import { markAllDirty } from '../model/sync-state/outbox.ts';
import { providers } from '../model/store/schema.ts';
import { seal } from '../model/store/secrets.ts';
import { accountUsers } from '../model/accounts/users.ts';
import { connectorFor, pacerFor, type Credentials } from './connectors.ts';
import { grantTokens } from './credentials.ts';
import { requireKeyring, type SyncDeps } from './flush.ts';

export const connectionCreateSchema = z.strictObject({
  provider: z.enum(providers),
  credentials: z.union([
    z.strictObject({ accessToken: z.string().min(1), clientSecret: z.string().min(1).optional() }),
    z.strictObject({ apiToken: z.string().min(1) }),
    z.strictObject({ oauthCode: z.string().min(1), redirectUri: z.url() }),
  ]),
  baseUrl: z.url().optional(),
  settings: z.record(z.string(), z.unknown()).optional(),
  /**
   * push (the default): every opportunity goes to the new CRM. backfill: the CRM already holds the
   * account's deals, so import and match them first; only what is still unlinked is pushed after.
   */
  initialSync: z.enum(['push', 'backfill']).default('push'),
});
/** As callers give it: initialSync may be left out. */
export type ConnectionCreate = z.input<typeof connectionCreateSchema>;

export interface SetupDeps extends SyncDeps {
  publicUrl: string;
  hubspotClientSecret?: string;
}

const slug = (label: string) => label.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');

/**
 * Defaults that make a new connection useful at once: canonical stages named after the CRM's stage
 * labels (so "Qualified" in HubSpot and in Pipedrive meet), the CRM's won/lost stages, and owners
 * matched to users by email. Anything given in `settings` wins.
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
  const credentials: Credentials =
    'oauthCode' in input.credentials
      ? await grantTokens(input.provider, deps.oauthApps?.[input.provider], { code: input.credentials.oauthCode, redirectUri: input.credentials.redirectUri }, input.baseUrl).catch(credentialProblem)
      : input.credentials;
  const pacer = pacerFor(deps.redis, deps.prefix, id, input.provider, { limits: {} });
  const connector = connectorFor(input.provider, credentials, input.baseUrl, pacer);
  const account = await connector.account().catch(credentialProblem);
  const canonicalIdField = await connector.prepare();
  const defaults = defaultSettings(account, await accountUsers(deps.db, accountId), canonicalIdField);
  const parsed = connectionSettingsSchema.safeParse({ ...defaults, baseUrl: input.baseUrl, ...input.settings });
  if (!parsed.success) throw invalid(parsed.error.issues.map((i) => ({ field: ['settings', ...i.path.map(String)].join('.'), message: i.message })));

  const webhook = await webhookFor(deps, id, input, connector);
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

async function webhookFor(deps: SetupDeps, id: string, input: ConnectionCreate, connector: ReturnType<typeof connectorFor>) {
  if (input.provider === 'pipedrive') {
    const auth = { user: `crm-sync-${id.slice(0, 8)}`, password: randomBytes(24).toString('base64url') };
    await connector.registerWebhook!(`${deps.publicUrl}/webhooks/pipedrive/${id}`, auth);
    return { secret: JSON.stringify(auth), view: { url: `${deps.publicUrl}/webhooks/pipedrive/${id}`, registered: true } };
  }
  const secret = 'clientSecret' in input.credentials ? input.credentials.clientSecret : deps.hubspotClientSecret;
  return {
    secret: secret ?? null,
    view: {
      url: `${deps.publicUrl}/webhooks/hubspot`,
      registered: false,
      instructions: 'Set this as the target URL of your HubSpot app and subscribe to deal events; signatures are checked with the app’s client secret.',
    },
  };
}
