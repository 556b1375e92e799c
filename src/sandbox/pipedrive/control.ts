import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiFaults } from '../shared/faults.ts';
import type { Company, DealInput } from './company.ts';
import { badRequest } from './errors.ts';
import { dealV2 } from './serialize.ts';
import type { PipedriveWebhookDispatcher, PipedriveWebhookFaults } from './webhook-delivery.ts';

export interface PipedriveControlContext {
  company: Company;
  dispatcher: PipedriveWebhookDispatcher;
  apiFaults: ApiFaults;
  reset(): void;
  /** API requests answered per method and route (test instrumentation). */
  requests(): Record<string, number>;
  spentToday(): number;
  issueAuthorizationCode(): string;
  revokeTokens(): void;
  oauthGrants(): number;
  regenerateApiToken(): string;
}

/** The person in the UI: user 2, change source 'app'. */
const PERSON = 2;
type WithId = FastifyRequest<{ Params: { id: string }; Body: DealInput & { reason?: string } }>;

/** Not part of Pipedrive: act as a person in its UI, read state, reset, inject faults. */
export function pipedriveControlRoutes(app: FastifyInstance, context: PipedriveControlContext) {
  const { company, dispatcher } = context;
  const id = (request: WithId) => Number(request.params.id);

  app.post('/_sandbox/reset', async () => {
    context.reset();
    return { reset: true };
  });
  app.post('/_sandbox/revoke', async () => {
    context.revokeTokens();
    return { revoked: true };
  });
  app.get('/_sandbox/requests', async () => ({ requests: context.requests() }));
  // The admin regenerating their API token in Pipedrive: the old one stops working at once.
  app.post('/_sandbox/tokens/rotate', async () => ({ token: context.regenerateApiToken() }));
  app.post('/_sandbox/oauth/code', async () => ({ code: context.issueAuthorizationCode() }));
  app.get('/_sandbox/state', async () => ({
    companyId: company.companyId,
    deals: company.visibleDeals().map((d) => dealV2(d)),
    webhooks: { idle: dispatcher.idle, deliveries: dispatcher.deliveries, registered: company.webhooks.map((w) => ({ id: w.id, bannedUntil: w.bannedUntil })) },
    tokensSpentToday: context.spentToday(),
    oauthGrants: context.oauthGrants(),
  }));
  app.post('/_sandbox/ui/deals', async (request: FastifyRequest<{ Body: DealInput }>, reply) =>
    reply.code(201).send(dealV2(company.createDeal(request.body ?? {}, 'app', PERSON))),
  );
  app.patch('/_sandbox/ui/deals/:id', async (request: WithId) => dealV2(company.updateDeal(id(request), request.body ?? {}, 'app', PERSON)));
  app.post('/_sandbox/ui/deals/bulk-edit', async (request: FastifyRequest<{ Body: { ids?: number[]; changes?: DealInput } }>) => {
    const { ids, changes } = request.body ?? {};
    if (!ids?.length || !changes) throw badRequest('ids and changes are required');
    return ids.map((dealId) => dealV2(company.updateDeal(dealId, changes, 'app', PERSON)));
  });
  app.post('/_sandbox/ui/deals/:id/won', async (request: WithId) => dealV2(company.updateDeal(id(request), { status: 'won' }, 'app', PERSON)));
  app.post('/_sandbox/ui/deals/:id/lost', async (request: WithId) =>
    dealV2(company.updateDeal(id(request), { status: 'lost', lost_reason: request.body?.reason ?? null }, 'app', PERSON)),
  );
  app.post('/_sandbox/ui/deals/:id/merge', async (request: FastifyRequest<{ Params: { id: string }; Body: { merge_with_id?: number } }>) => {
    if (!request.body?.merge_with_id) throw badRequest('merge_with_id is required');
    return dealV2(company.mergeDeals(Number(request.params.id), request.body.merge_with_id, 'app', PERSON));
  });
  app.delete('/_sandbox/ui/deals/:id', async (request: WithId, reply) => {
    company.deleteDeal(id(request), 'app', PERSON);
    return reply.code(204).send();
  });
  app.post('/_sandbox/faults', async (request: FastifyRequest<{ Body: Partial<ApiFaults> & { dropWebhooks?: number; duplicateWebhooks?: number; delayWebhooksMs?: number; reorderWebhooks?: boolean } }>) => {
    const b = request.body ?? {};
    const api: Partial<ApiFaults> = { latencyMs: b.latencyMs, fail429: b.fail429, fail5xx: b.fail5xx, reset: b.reset };
    const hooks: Partial<PipedriveWebhookFaults> = { drop: b.dropWebhooks, duplicate: b.duplicateWebhooks, delayMs: b.delayWebhooksMs, reorder: b.reorderWebhooks };
    Object.assign(context.apiFaults, defined(api));
    Object.assign(dispatcher.faults, defined(hooks));
    return { api: context.apiFaults, webhooks: dispatcher.faults };
  });
}

function defined<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}
