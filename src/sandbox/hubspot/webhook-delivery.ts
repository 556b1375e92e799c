import { createHmac } from 'node:crypto';
import { postJson, succeeded, Timers, type DeliveryStatus } from '../shared/delivery.ts';
import type { PortalEvent } from './portal.ts';

export interface Subscription {
  id: string;
  eventType: string;
  propertyName?: string;
  active: boolean;
  createdAt: string;
  updatedAt?: string;
}

export interface WebhookFaults {
  /** The next n events are never sent. */
  drop: number;
  /** The next n events are sent twice. */
  duplicate: number;
  /** Events wait this long before they can be sent. */
  delayMs: number;
  /** Each batch is sent in reverse order. */
  reorder: boolean;
}

export const noWebhookFaults = (): WebhookFaults => ({ drop: 0, duplicate: 0, delayMs: 0, reorder: false });

export interface DeliveryRecord {
  eventIds: number[];
  attempt: number;
  status: DeliveryStatus;
}

export interface DeliverySettings {
  appId: number;
  portalId: number;
  clientSecret: string;
  /** HubSpot retries over 24 hours; tests compress the schedule. */
  retryDelaysMs: number[];
  timeoutMs: number;
}

type Event = Record<string, unknown> & { eventId: number };

const BATCH_MAX = 100;
const MAX_IN_FLIGHT = 10;
/** With `reorder` set, events are held this long and then sent newest first. */
const REORDER_HOLD_MS = 250;

/** The v3 signature: HMAC-SHA256 of method + URI + body + timestamp with the app's client secret, base64. */
export function signV3(secret: string, method: string, uri: string, body: string, timestamp: number) {
  return createHmac('sha256', secret).update(`${method}${uri}${body}${timestamp}`).digest('base64');
}

/** Sends subscribed events to the app's target URL the way HubSpot does: batched, signed, retried. */
export class WebhookDispatcher {
  targetUrl: string | undefined;
  subscriptions: Subscription[] = [];
  faults = noWebhookFaults();
  deliveries: DeliveryRecord[] = [];
  private pending: Event[] = [];
  private inFlight = 0;
  private nextEventId = 1;
  private nextSubscriptionId = 1;
  private timers = new Timers();
  private readonly settings: DeliverySettings;

  constructor(settings: DeliverySettings) {
    this.settings = settings;
  }

  subscribe(eventType: string, propertyName: string | undefined, active: boolean): Subscription {
    const subscription = { id: String(this.nextSubscriptionId++), eventType, propertyName, active, createdAt: new Date().toISOString() };
    this.subscriptions.push(subscription);
    return subscription;
  }

  private subscriptionFor(event: PortalEvent) {
    return this.subscriptions.find(
      (s) =>
        s.active &&
        s.eventType === event.subscriptionType &&
        (event.subscriptionType !== 'deal.propertyChange' || s.propertyName === event.propertyName),
    );
  }

  enqueue(event: PortalEvent) {
    const subscription = this.subscriptionFor(event);
    if (!subscription || !this.targetUrl) return;
    if (this.faults.drop > 0) {
      this.faults.drop--;
      return;
    }
    const body = this.toWebhookEvent(event, subscription.id);
    const copies = this.faults.duplicate > 0 ? (this.faults.duplicate--, 2) : 1;
    for (let i = 0; i < copies; i++) this.later(this.faults.delayMs, () => this.add(body));
  }

  private toWebhookEvent(event: PortalEvent, subscriptionId: string): Event {
    const { appId, portalId } = this.settings;
    return {
      eventId: this.nextEventId++,
      subscriptionId: Number(subscriptionId),
      portalId,
      appId,
      occurredAt: event.occurredAt,
      subscriptionType: event.subscriptionType,
      attemptNumber: 0,
      objectId: event.objectId,
      changeSource: event.source.sourceType,
      sourceId: event.source.sourceId,
      ...(event.propertyName === undefined ? {} : { propertyName: event.propertyName, propertyValue: event.propertyValue }),
      ...(event.subscriptionType === 'deal.creation' ? { changeFlag: 'CREATED' } : {}),
      ...(event.subscriptionType === 'deal.deletion' ? { changeFlag: 'DELETED' } : {}),
      ...(event.subscriptionType === 'deal.restore' ? { changeFlag: 'RESTORED' } : {}),
      ...event.merge,
      ...(event.association && {
        ...event.association,
        associationType: 'DEAL_TO_CONTACT',
        isPrimaryAssociation: false,
        associationCategory: 'HUBSPOT_DEFINED',
        associationTypeId: 3,
      }),
    };
  }

  private add(event: Event) {
    this.pending.push(event);
    this.later(this.faults.reorder ? REORDER_HOLD_MS : 0, () => this.pump());
  }

  private later(ms: number, work: () => void) {
    this.timers.schedule(ms, work);
  }

  private pump() {
    if (this.faults.reorder) this.pending.reverse();
    while (this.pending.length && this.inFlight < MAX_IN_FLIGHT) {
      void this.send(this.pending.splice(0, BATCH_MAX), 0);
    }
  }

  private async send(batch: Event[], attempt: number) {
    this.inFlight++;
    const status = await this.post(batch.map((e) => ({ ...e, attemptNumber: attempt })));
    this.inFlight--;
    this.deliveries.push({ eventIds: batch.map((e) => e.eventId), attempt, status });
    const delay = this.settings.retryDelaysMs[attempt];
    if (!succeeded(status) && delay !== undefined) this.later(delay, () => void this.send(batch, attempt + 1));
    this.pump();
  }

  private post(events: Event[]): Promise<DeliveryStatus> {
    const url = this.targetUrl!;
    const body = JSON.stringify(events);
    const timestamp = Date.now();
    const headers = {
      'x-hubspot-signature-v3': signV3(this.settings.clientSecret, 'POST', url, body, timestamp),
      'x-hubspot-request-timestamp': String(timestamp),
      'x-hubspot-signature-version': 'v3',
    };
    return postJson(url, body, headers, this.settings.timeoutMs);
  }

  /** Nothing waiting, nothing in flight, no retry scheduled. */
  get idle() {
    return this.pending.length === 0 && this.inFlight === 0 && this.timers.empty;
  }

  reset() {
    this.timers.clear();
    this.pending = [];
    this.deliveries = [];
    this.faults = noWebhookFaults();
  }
}
