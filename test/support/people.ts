import { newAccount, type Client, type TestApi } from './api.ts';
import { connectBoth } from './connect.ts';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { eventually, startListeningStack, startSandboxes, type SyncStack } from './sync.ts';

// Bodies read back from the API and the sandboxes' control API.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;
export type Sandboxes = Awaited<ReturnType<typeof startSandboxes>>;

/** What a person sees in a sandbox (its control API, which no injected fault slows down). */
export const sandboxState = async (baseUrl: string): Promise<Json> => (await fetch(`${baseUrl}/_sandbox/state`)).json();

/** A person acting in a CRM's own UI (the sandboxes' control routes): their changes are not ours. */
export async function asPerson(baseUrl: string, method: string, path: string, body: unknown = {}): Promise<Json> {
  const response = await fetch(`${baseUrl}/_sandbox/ui${path}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${method} ${path} → ${response.status} ${await response.text()}`);
  return response.status === 204 ? undefined : response.json();
}

/** The deals carrying a canonical id, in each CRM. */
export function dealsOf(sandboxes: Sandboxes, pipedriveIdField: string) {
  return {
    hubspot: async (id: string): Promise<Json> => (await sandboxState(sandboxes.hubspot.baseUrl)).deals.find((d: Json) => d.properties.crm_sync_id === id),
    pipedrive: async (id: string): Promise<Json> => (await sandboxState(sandboxes.pipedrive.baseUrl)).deals.find((d: Json) => d.custom_fields[pipedriveIdField] === id),
  };
}

/** The sandboxes' own people as the account's users (both CRMs' owners map to them by email); their ids by email. */
export async function addSandboxPeople(client: Client): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const [name, email] of [['Ana Admin', 'ana@sandbox.example'], ['Ben Seller', 'ben@sandbox.example']] as const) {
    ids[email] = (await client.request('POST', '/v1/users', { name, email })).json().id;
  }
  return ids;
}

export const faults = (baseUrl: string, body: Json): Promise<Json> =>
  fetch(`${baseUrl}/_sandbox/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then((r) => r.json());

/**
 * An account of its own on the listening stack, with fresh sandboxes connected through the API
 * (webhooks pointed at the stack). A new connection's first reconciliation is due an interval
 * after its creation, set to an hour here: only webhooks and flushes move deals in these tests
 * (`reconciled()` says whether a pass ran after all).
 */
export async function connectedAccount(stack: SyncStack, seed: number, name: string, settings: { hubspot?: Json; pipedrive?: Json } = {}) {
  const sandboxes = await startSandboxes(seed);
  const client: Client = await newAccount({ database: stack.database, app: stack.app, close: stack.close } as TestApi, name);
  const hourly = (more: Json = {}) => ({ settings: { reconcileIntervalSeconds: 3600, ...more } });
  const connections = await connectBoth(client, sandboxes, { hubspot: hourly(settings.hubspot), pipedrive: hourly(settings.pipedrive) });
  const ids = [connections.hubspot.id, connections.pipedrive.id];
  const pipedriveKey: string = connections.pipedrive.settings.canonicalIdField;
  const deals = dealsOf(sandboxes, pipedriveKey);
  return {
    sandboxes,
    client,
    connections,
    hubspotDealOf: deals.hubspot,
    pipedriveDealOf: deals.pipedrive,
    pipedriveKey,
    async reconciled(): Promise<boolean> {
      const rows = await stack.database.sql`SELECT reconcile_cursor FROM connections WHERE id IN ${stack.database.sql(ids)}`;
      return rows.some((r) => r.reconcile_cursor?.lastPass);
    },
    opportunity: async (id: string): Promise<Json> => (await client.request('GET', `/v1/opportunities/${id}`)).json(),
    async close() {
      for (const id of ids) await client.request('DELETE', `/v1/connections/${id}`);
      await sandboxes.close();
    },
  };
}
export type ConnectedAccount = Awaited<ReturnType<typeof connectedAccount>>;

/** Quiet: no outbox or inbox row of the account, no webhook on its way, no sync job queued; several looks in a row. */
export async function settled(stack: SyncStack, account: ConnectedAccount) {
  let streak = 0;
  await eventually(async () => {
    const [{ n }] = await stack.database.sql`
      SELECT ((SELECT count(*) FROM outbox o JOIN connections c ON c.id = o.connection_id WHERE c.account_id = ${account.client.accountId})
           + (SELECT count(*) FROM inbox i JOIN connections c ON c.id = i.connection_id WHERE c.account_id = ${account.client.accountId} AND i.failed_at IS NULL))::int AS n`;
    const [h, p] = await Promise.all([sandboxState(account.sandboxes.hubspot.baseUrl), sandboxState(account.sandboxes.pipedrive.baseUrl)]);
    const jobs = await Promise.all([stack.queues.inbound, stack.queues.outbound].map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized')));
    const queued = jobs.some((counts) => Object.values(counts).some((count) => count > 0));
    const quiet = n === 0 && h.webhooks.idle && p.webhooks.idle && !queued;
    streak = quiet ? streak + 1 : 0;
    return streak >= 5;
  }, 'the account is quiet', 90_000);
}

/**
 * For a file whose tests each need an account with both CRMs: one listening stack for the file,
 * and `account()` a new connected account (seeds from `firstSeed`) that is closed after its test.
 */
export function stackWithAccounts(firstSeed: number) {
  let seed = firstSeed;
  let open: ConnectedAccount | undefined;
  const world = {
    stack: undefined as unknown as SyncStack,
    async account(name: string, settings?: { hubspot?: Json; pipedrive?: Json }) {
      open = await connectedAccount(world.stack, seed++, name, settings);
      return open;
    },
  };
  beforeAll(async () => {
    world.stack = await startListeningStack();
  });
  afterAll(async () => {
    await world.stack.close();
  });
  afterEach(async () => {
    await open?.close();
    open = undefined;
  });
  return world;
}
