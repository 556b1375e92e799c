import { Client } from '@hubspot/api-client';
import type { SubscriptionCreateRequestEventTypeEnum } from '@hubspot/api-client/lib/codegen/webhooks/index.js';
import type { MappingSettings } from '../../sync/fields.ts';
import { within } from '../../model/store/within.ts';
import { propertiesRead } from '../field-map.ts';
import { crmAgentFor } from '../timeouts.ts';
import type { SubscriptionRegistration, WebhookSubscription } from '../types.ts';
import { hubspotFields } from './fields.ts';

/**
 * A HubSpot app sends only the events it subscribes to, and a deal.propertyChange only for the
 * properties named: a property the sync reads but the app does not subscribe to changes unseen
 * until reconciliation. So the list is derived from the field registry (every property any field
 * reads with this connection's settings: custom attributes, source and the ERP reference included),
 * never written out by hand.
 */
const OBJECT_EVENTS = ['deal.creation', 'deal.deletion', 'deal.restore', 'deal.merge'];
const PROPERTY_CHANGE = 'deal.propertyChange';

export function hubspotSubscriptions(settings: MappingSettings): WebhookSubscription[] {
  const properties = [...new Set([...propertiesRead(hubspotFields, settings), ...(settings.externalRefField ? [settings.externalRefField] : [])])];
  return [...OBJECT_EVENTS.map((eventType) => ({ eventType })), ...properties.map((propertyName) => ({ eventType: PROPERTY_CHANGE, propertyName }))];
}

const key = (s: { eventType: string; propertyName?: string | undefined }) => `${s.eventType}${s.propertyName ? `:${s.propertyName}` : ''}`;

/** How long each developer API call may take. */
const CALL_TIMEOUT_MS = 30_000;

const bounded = <T>(promise: Promise<T>, what: string) => within(promise, CALL_TIMEOUT_MS, `${what}: no answer within ${CALL_TIMEOUT_MS / 1000} s`);

/**
 * Points the app's webhooks at our receiver and subscribes what is missing, with the app's developer
 * API key (the webhooks v3 API). Existing subscriptions are left as they are; inactive ones are named.
 */
export async function registerHubSpotSubscriptions(input: SubscriptionRegistration): Promise<{ created: string[]; present: string[]; inactive: string[] }> {
  const appId = Number(input.appId);
  if (!Number.isSafeInteger(appId) || appId <= 0) throw new Error('the app id must be a number');
  const httpAgent = crmAgentFor(input.baseUrl ?? 'https://api.hubapi.com');
  const client = new Client({ developerApiKey: input.developerKey, ...(input.baseUrl ? { basePath: input.baseUrl } : {}), numberOfApiCallRetries: 0, httpAgent });
  const { webhooks } = client;
  await bounded(webhooks.settingsApi.configure(appId, { targetUrl: input.targetUrl, throttling: { maxConcurrentRequests: 10 } }), 'setting the target URL');
  const existing = (await bounded(webhooks.subscriptionsApi.getAll(appId), 'listing subscriptions')).results;
  const present = new Map(existing.map((s) => [key(s), s.active]));
  const result = { created: [] as string[], present: [] as string[], inactive: [] as string[] };
  for (const wanted of hubspotSubscriptions(input.settings)) {
    const name = key(wanted);
    if (present.has(name)) {
      (present.get(name) ? result.present : result.inactive).push(name);
      continue;
    }
    await bounded(webhooks.subscriptionsApi.create(appId, { eventType: wanted.eventType as SubscriptionCreateRequestEventTypeEnum, propertyName: wanted.propertyName, active: true }), `subscribing ${name}`);
    result.created.push(name);
  }
  return result;
}
