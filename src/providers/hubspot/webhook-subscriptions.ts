import { Client } from '@hubspot/api-client';
import type { SubscriptionCreateRequestEventTypeEnum } from '@hubspot/api-client/lib/codegen/webhooks/index.js';
import type { MappingSettings } from '../../sync/fields.ts';
import { within } from '../../model/store/within.ts';
import { propertiesRead } from '../field-map.ts';
import { crmAgentFor } from '../timeouts.ts';
import type { RegistrationOutcome, SubscriptionRegistration, WebhookSubscription } from '../types.ts';
import { subscriptionName } from '../webhook-subscription-name.ts';
import { hubspotFields } from './fields.ts';

/**
 * A HubSpot app sends only the events it subscribes to, and a deal.propertyChange only for the
 * properties named: a property the sync reads but the app does not subscribe to changes unseen
 * until reconciliation. So the list is derived from the field registry (every property any field
 * reads with this connection's settings: owner, pipeline and stage, description, close reason,
 * custom attributes, source and the ERP reference included), never written out by hand.
 * deal.associationChange brings a change of the deal's contacts (the primary contact syncs).
 * Contact events are not subscribed: they name a contact, not its deals, and the sync reads a
 * deal's contact whenever it reads the deal.
 */
const OBJECT_EVENTS = ['deal.creation', 'deal.deletion', 'deal.restore', 'deal.merge', 'deal.associationChange'];
const PROPERTY_CHANGE = 'deal.propertyChange';

export function hubspotSubscriptions(settings: MappingSettings): WebhookSubscription[] {
  const properties = [...new Set([...propertiesRead(hubspotFields, settings), ...(settings.externalRefField ? [settings.externalRefField] : [])])];
  return [...OBJECT_EVENTS.map((eventType) => ({ eventType })), ...properties.map((propertyName) => ({ eventType: PROPERTY_CHANGE, propertyName }))];
}

/** How long each developer API call may take. */
const CALL_TIMEOUT_MS = 30_000;

const bounded = <T>(promise: Promise<T>, what: string) => within(promise, CALL_TIMEOUT_MS, `${what}: no answer within ${CALL_TIMEOUT_MS / 1000} s`);

/**
 * Points the app's webhooks at our receiver and subscribes what is missing, with the app's developer
 * API key (the webhooks v3 API: there is no batch create, so one POST per missing subscription; the
 * only batch endpoint, subscriptions/batch/update, just turns existing ones on or off). Existing
 * subscriptions are left as they are: inactive ones the sync needs are named (a person turned them
 * off in the app's settings), and so are those the sync does not need (another integration's, or a
 * property no longer mapped), never deleted: the app's subscriptions serve every portal that installed it.
 */
export async function registerHubSpotSubscriptions(input: SubscriptionRegistration): Promise<RegistrationOutcome> {
  const appId = Number(input.appId);
  if (!Number.isSafeInteger(appId) || appId <= 0) throw new Error('the app id must be a number');
  const httpAgent = crmAgentFor(input.baseUrl ?? 'https://api.hubapi.com');
  const client = new Client({ developerApiKey: input.developerKey, ...(input.baseUrl ? { basePath: input.baseUrl } : {}), numberOfApiCallRetries: 0, httpAgent });
  const { webhooks } = client;
  await bounded(webhooks.settingsApi.configure(appId, { targetUrl: input.targetUrl, throttling: { maxConcurrentRequests: 10 } }), 'setting the target URL');
  const existing = (await bounded(webhooks.subscriptionsApi.getAll(appId), 'listing subscriptions')).results;
  const present = new Map(existing.map((s) => [subscriptionName(s), s.active]));
  const wantedList = hubspotSubscriptions(input.settings);
  const wantedNames = new Set(wantedList.map(subscriptionName));
  const result: RegistrationOutcome = { created: [], present: [], inactive: [], unwanted: [...present.keys()].filter((name) => !wantedNames.has(name)) };
  for (const wanted of wantedList) {
    const name = subscriptionName(wanted);
    if (present.has(name)) {
      (present.get(name) ? result.present : result.inactive).push(name);
      continue;
    }
    await bounded(webhooks.subscriptionsApi.create(appId, { eventType: wanted.eventType as SubscriptionCreateRequestEventTypeEnum, propertyName: wanted.propertyName, active: true }), `subscribing ${name}`);
    result.created.push(name);
  }
  return result;
}
