import { postJson, succeeded, Timers, type DeliveryStatus } from '../shared/delivery.ts';
import type { Random } from '../shared/random.ts';
import type { Company, DealEvent } from './company.ts';
import { rfc3339, type Webhook } from './model.ts';
import { dealWebhook } from './serialize.ts';

export interface PipedriveWebhookFaults {
  drop: number;
  duplicate: number;
  delayMs: number;
  reorder: boolean;
}
export const noPipedriveWebhookFaults = (): PipedriveWebhookFaults => ({ drop: 0, duplicate: 0, delayMs: 0, reorder: false });

export interface PipedriveDelivery {
  webhookId: number;
  metaId: string;
  attempt: number;
  status: DeliveryStatus | 'banned';
}

const BAN_AFTER_FAILED_FIRST_ATTEMPTS = 10;
/** With `reorder` set, deliveries are held this long and then sent newest first. */
const REORDER_HOLD_MS = 250;
const BAN_MS = 30 * 60 * 1000;

/** Pipedrive's v2 webhook deliveries: one event per request, basic auth, retried, banned after ten failures. */
export class PipedriveWebhookDispatcher {
  faults = noPipedriveWebhookFaults();
  deliveries: PipedriveDelivery[] = [];
  private timers = new Timers();
  private inFlight = 0;
  private held: (() => void)[] = [];
  private readonly company: () => Company;
  private readonly random: Random;
  private readonly retryDelaysMs: number[];
  private readonly timeoutMs: number;

  constructor(company: () => Company, random: Random, retryDelaysMs: number[], timeoutMs: number) {
    this.company = company;
    this.random = random;
    this.retryDelaysMs = retryDelaysMs;
    this.timeoutMs = timeoutMs;
  }

  enqueue(event: DealEvent) {
    const company = this.company();
    for (const webhook of company.webhooks) {
      if (!['*', event.action].includes(webhook.event_action) || !['*', 'deal'].includes(webhook.event_object)) continue;
      if (this.faults.drop > 0) {
        this.faults.drop--;
        continue;
      }
      const body = this.body(event, webhook, company);
      const copies = this.faults.duplicate > 0 ? (this.faults.duplicate--, 2) : 1;
      for (let i = 0; i < copies; i++) this.schedule(this.faults.delayMs, () => this.dispatch(webhook, body, 1));
    }
  }

  private body(event: DealEvent, webhook: Webhook, company: Company) {
    return {
      meta: {
        action: event.action,
        entity: 'deal',
        entity_id: String(event.current.id),
        company_id: String(company.companyId),
        correlation_id: this.random.uuid(),
        id: this.random.uuid(),
        is_bulk_edit: false,
        timestamp: rfc3339(event.current.update_time),
        type: 'general',
        user_id: String(event.userId),
        version: '2.0',
        webhook_id: String(webhook.id),
        webhook_owner_id: '1',
        change_source: event.source,
        permitted_user_ids: company.users.map((u) => String(u.id)),
        attempt: 1,
        host: 'sandbox.pipedrive.com',
        ...(event.mergedToId === undefined ? {} : { merged_to_id: String(event.mergedToId) }),
      },
      data: event.action === 'delete' ? null : dealWebhook(event.current, company.fields),
      previous: event.previous ? dealWebhook(event.previous, company.fields) : null,
    };
  }

  /** With `reorder` set, deliveries are held and sent newest first once the current burst ends. */
  private dispatch(webhook: Webhook, body: ReturnType<PipedriveWebhookDispatcher['body']>, attempt: number) {
    const send = () => void this.send(webhook, body, attempt);
    if (!this.faults.reorder) return send();
    this.held.unshift(send);
    this.schedule(REORDER_HOLD_MS, () => this.held.splice(0).forEach((release) => release()));
  }

  private schedule(ms: number, work: () => void) {
    this.timers.schedule(ms, work);
  }

  private async send(webhook: Webhook, body: ReturnType<PipedriveWebhookDispatcher['body']>, attempt: number) {
    const now = Date.now();
    if (webhook.bannedUntil > now) {
      // Events raised while a webhook is banned are lost, as on the real service.
      this.deliveries.push({ webhookId: webhook.id, metaId: body.meta.id, attempt, status: 'banned' });
      return;
    }
    this.inFlight++;
    const status = await this.post(webhook, { ...body, meta: { ...body.meta, attempt } });
    this.inFlight--;
    this.deliveries.push({ webhookId: webhook.id, metaId: body.meta.id, attempt, status });
    webhook.last_http_status = typeof status === 'number' ? status : null;
    webhook.last_delivery_time = new Date();
    const failed = !succeeded(status);
    if (attempt === 1) this.countFirstAttempt(webhook, failed);
    const delay = this.retryDelaysMs[attempt - 1];
    if (failed && delay !== undefined) this.schedule(delay, () => void this.send(webhook, body, attempt + 1));
  }

  private countFirstAttempt(webhook: Webhook, failed: boolean) {
    webhook.failedFirstAttempts = failed ? webhook.failedFirstAttempts + 1 : 0;
    if (webhook.failedFirstAttempts >= BAN_AFTER_FAILED_FIRST_ATTEMPTS) {
      webhook.bannedUntil = Date.now() + BAN_MS;
      webhook.failedFirstAttempts = 0;
    }
  }

  private post(webhook: Webhook, body: unknown): Promise<DeliveryStatus> {
    const auth = webhook.http_auth_user === null ? '' : `${webhook.http_auth_user}:${webhook.http_auth_password ?? ''}`;
    const headers: Record<string, string> = auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {};
    return postJson(webhook.subscription_url, JSON.stringify(body), headers, this.timeoutMs);
  }

  get idle() {
    return this.timers.empty && this.inFlight === 0 && this.held.length === 0;
  }

  reset() {
    this.timers.clear();
    this.held = [];
    this.deliveries = [];
    this.faults = noPipedriveWebhookFaults();
  }
}
