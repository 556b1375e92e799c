import { startHubSpotSandbox, type HubSpotSandbox } from '../../src/sandbox/hubspot/index.ts';
import { startPipedriveSandbox, type PipedriveSandbox } from '../../src/sandbox/pipedrive/index.ts';
import type { Client } from '../support/api.ts';
import type { Crm } from './model.ts';
import type { World } from './world.ts';

// Bodies read back from the API and the sandboxes' control API.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/**
 * Canonical stages, keyed as Pipedrive's default stages are by default (slugs of their labels), and
 * the HubSpot stage each one is mapped to: the two CRMs' default stage labels differ, so an ops team
 * would map them, as this does through the connection settings.
 */
export const STAGES = [
  { key: 'qualified', hubspot: 'appointmentscheduled', pipedrive: 1 },
  { key: 'contact_made', hubspot: 'qualifiedtobuy', pipedrive: 2 },
  { key: 'demo_scheduled', hubspot: 'presentationscheduled', pipedrive: 3 },
  { key: 'proposal_made', hubspot: 'decisionmakerboughtin', pipedrive: 4 },
  { key: 'negotiations_started', hubspot: 'contractsent', pipedrive: 5 },
] as const;

/** Every HubSpot webhook the sync can use for deals, with the properties it maps. */
const HUBSPOT_SUBSCRIPTIONS: [string, string?][] = [
  ['deal.creation'],
  ['deal.deletion'],
  ['deal.restore'],
  ['deal.merge'],
  ...['dealname', 'amount', 'closedate', 'dealstage', 'pipeline', 'closed_lost_reason'].map((p): [string, string] => ['deal.propertyChange', p]),
];

export interface SandboxFaults {
  latencyMs?: number;
  fail429?: number;
  fail5xx?: number;
  dropWebhooks?: number;
  duplicateWebhooks?: number;
  delayWebhooksMs?: number;
  reorderWebhooks?: boolean;
}

/** One seed's customer: an account, a HubSpot portal and a Pipedrive company of its own, both connected. */
export interface Tenant {
  client: Client;
  hubspot: HubSpotSandbox;
  pipedrive: PipedriveSandbox;
  connectionIds: Record<Crm, string>;
  /** The Pipedrive custom field that carries the canonical id. */
  pipedriveIdField: string;
  sandbox(crm: Crm): { baseUrl: string };
  state(crm: Crm): Promise<Json>;
  ui(crm: Crm, method: string, path: string, body?: unknown): Promise<Json>;
  /** Sets faults; answers how many webhooks the sandbox will still drop. */
  faults(crm: Crm, faults: SandboxFaults): Promise<{ dropsLeft: number }>;
  idle(): Promise<boolean>;
  /**
   * Webhook events the CRM gave up on (every attempt failed, retries spent), with the statuses of
   * their attempts: lost as surely as a dropped one, so only reconciliation can repair them.
   */
  undelivered(): Promise<{ crm: Crm; events: number; statuses: string[] }[]>;
  close(): Promise<void>;
}

interface Delivery {
  attempt: number;
  status: number | string;
}

/** Events (by key) of which no attempt succeeded, and what their attempts answered. */
function givenUp(deliveries: Delivery[], keysOf: (d: Delivery) => string[]): { events: number; statuses: string[] } {
  const ok = (status: number | string) => typeof status === 'number' && status >= 200 && status <= 299;
  const delivered = new Set(deliveries.filter((d) => ok(d.status)).flatMap(keysOf));
  const failed = deliveries.filter((d) => !ok(d.status) && keysOf(d).some((k) => !delivered.has(k)));
  const lost = new Set(failed.flatMap(keysOf).filter((k) => !delivered.has(k)));
  return { events: lost.size, statuses: [...new Set(failed.map((d) => String(d.status)))] };
}

async function call(url: string, method: string, body?: unknown): Promise<Json> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${new URL(url).pathname} → ${response.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : undefined;
}

export async function startTenant(world: World, seed: number): Promise<Tenant> {
  // Webhook retries compressed (the real schedules span hours); our receiver only fails if Redis does.
  const [hubspot, pipedrive] = await Promise.all([
    startHubSpotSandbox({ seed, limits: { tenSecondLimit: 250 }, webhookRetryDelaysMs: [200, 500, 1000, 2000], webhookTimeoutMs: 5000 }),
    startPipedriveSandbox({ seed, limits: { burstLimit: 480 }, webhookRetryDelaysMs: [200, 1000, 3000], webhookTimeoutMs: 5000 }),
  ]);
  const client = await world.newClient(`Convergence ${seed}`);
  const connect = async (body: unknown) => {
    const response = await client.request('POST', '/v1/connections', body);
    if (response.statusCode !== 201) throw new Error(`connection refused: ${response.statusCode} ${response.body}`);
    return response.json();
  };
  const hubspotConnection = await connect({
    provider: 'hubspot',
    credentials: { accessToken: hubspot.token, clientSecret: hubspot.clientSecret },
    baseUrl: hubspot.baseUrl,
    settings: { limits: { perWindow: 250 }, stages: STAGES.map((s) => ({ stage: s.key, pipelineId: 'default', stageId: s.hubspot })) },
  });
  const pipedriveConnection = await connect({ provider: 'pipedrive', credentials: { apiToken: pipedrive.token }, baseUrl: pipedrive.baseUrl, settings: { limits: { perWindow: 480 } } });
  const missing = STAGES.filter((s) => !pipedriveConnection.settings.stages.some((m: Json) => m.stage === s.key && m.stageId === String(s.pipedrive)));
  if (missing.length) throw new Error(`Pipedrive's default stage map changed: ${JSON.stringify(pipedriveConnection.settings.stages)}`);

  const app = `${hubspot.baseUrl}/webhooks/v3/${hubspot.appId}`;
  await call(`${app}/settings?hapikey=${hubspot.developerApiKey}`, 'PUT', { targetUrl: hubspotConnection.webhook.url });
  for (const [eventType, propertyName] of HUBSPOT_SUBSCRIPTIONS) {
    await call(`${app}/subscriptions?hapikey=${hubspot.developerApiKey}`, 'POST', { eventType, propertyName, active: true });
  }

  const sandboxes = { hubspot, pipedrive };
  const state = (crm: Crm) => call(`${sandboxes[crm].baseUrl}/_sandbox/state`, 'GET');
  return {
    client,
    hubspot,
    pipedrive,
    connectionIds: { hubspot: hubspotConnection.id, pipedrive: pipedriveConnection.id },
    pipedriveIdField: pipedriveConnection.settings.canonicalIdField,
    sandbox: (crm) => sandboxes[crm],
    state,
    ui: (crm, method, path, body) => call(`${sandboxes[crm].baseUrl}/_sandbox/ui${path}`, method, body),
    async faults(crm, faults) {
      const now = await call(`${sandboxes[crm].baseUrl}/_sandbox/faults`, 'POST', faults);
      return { dropsLeft: Number(now.webhooks.drop ?? 0) };
    },
    async idle() {
      const [h, p] = await Promise.all([state('hubspot'), state('pipedrive')]);
      return h.webhooks.idle === true && p.webhooks.idle === true;
    },
    async undelivered() {
      const [h, p] = await Promise.all([state('hubspot'), state('pipedrive')]);
      // Still retrying is not given up: only called once the sandboxes are idle (no retry scheduled).
      const lost = [
        { crm: 'hubspot' as const, ...givenUp(h.webhooks.deliveries, (d) => (d as Json).eventIds.map(String)) },
        { crm: 'pipedrive' as const, ...givenUp(p.webhooks.deliveries, (d) => [String((d as Json).metaId)]) },
      ];
      return lost.filter((l) => l.events > 0);
    },
    async close() {
      for (const id of Object.values({ hubspot: hubspotConnection.id, pipedrive: pipedriveConnection.id })) {
        await client.request('DELETE', `/v1/connections/${id}`);
      }
      await Promise.all([hubspot.close(), pipedrive.close()]);
    },
  };
}
