import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest } from './errors.ts';
import type { ApiFaults } from '../shared/faults.ts';
import type { ChangeSource } from './model.ts';
import type { Portal } from './portal.ts';
import { serializeDeal } from './serialize.ts';
import type { WebhookDispatcher, WebhookFaults } from './webhook-delivery.ts';

/** A person working in HubSpot's own UI: changes carry CRM_UI as their source. */
const person: ChangeSource = { sourceType: 'CRM_UI', sourceId: 'userId:9001' };

type Properties = Record<string, string | null>;
type WithId = FastifyRequest<{ Params: { id: string }; Body: Properties & { reason?: string; stageId?: string } }>;

export interface ControlContext {
  portal: Portal;
  dispatcher: WebhookDispatcher;
  apiFaults: ApiFaults;
  reset(): void;
  /** API requests answered per method and route (test instrumentation). */
  requests(): Record<string, number>;
  issueAuthorizationCode(): string;
  revokeTokens(): void;
  rotateToken(keepOld: boolean): string;
  oauthGrants(): number;
  usage(): Record<string, number>;
}

/** The sandbox's own API, apart from the faithful surface: act as a person, read state, inject faults. */
export function controlRoutes(app: FastifyInstance, context: ControlContext) {
  const { portal, dispatcher } = context;
  const everything = (id: string) => serializeDeal(portal.live(id), { properties: Object.keys(portal.live(id).properties) });

  app.post('/_sandbox/reset', async () => {
    context.reset();
    return { reset: true };
  });

  app.get('/_sandbox/state', async () => ({
    portalId: portal.portalId,
    deals: [...portal.deals.values()].filter((d) => !d.mergedInto).map((d) => serializeDeal(d, { properties: Object.keys(d.properties) })),
    webhooks: { targetUrl: dispatcher.targetUrl ?? null, idle: dispatcher.idle, deliveries: dispatcher.deliveries },
    usage: context.usage(),
    oauthGrants: context.oauthGrants(),
  }));

  app.get('/_sandbox/requests', async () => ({ requests: context.requests() }));

  app.post('/_sandbox/oauth/code', async () => ({ code: context.issueAuthorizationCode() }));
  app.post('/_sandbox/revoke', async () => {
    context.revokeTokens();
    return { revoked: true };
  });

  // An admin rotating the private app's token in HubSpot's settings: the old one expires now unless keepOld.
  app.post('/_sandbox/tokens/rotate', async (request: FastifyRequest<{ Body: { keepOld?: boolean } | null }>) => ({ token: context.rotateToken(request.body?.keepOld === true) }));

  app.post('/_sandbox/ui/deals', async (request: FastifyRequest<{ Body: Properties }>, reply) =>
    reply.code(201).send(everything(portal.createDeal(request.body ?? {}, person).id)),
  );
  app.patch('/_sandbox/ui/deals/:id', async (request: WithId) => everything(portal.updateDeal(request.params.id, request.body ?? {}, person).id));
  app.post('/_sandbox/ui/deals/bulk-edit', async (request: FastifyRequest<{ Body: { ids?: string[]; properties?: Properties } }>) => {
    const { ids, properties } = request.body ?? {};
    if (!ids?.length || !properties) throw badRequest('ids and properties are required');
    return { results: ids.map((id) => everything(portal.updateDeal(id, properties, person).id)) };
  });
  app.post('/_sandbox/ui/deals/:id/stage', async (request: WithId) => {
    if (!request.body?.stageId) throw badRequest('stageId is required');
    return everything(portal.updateDeal(request.params.id, { dealstage: request.body.stageId }, person).id);
  });
  app.post('/_sandbox/ui/deals/:id/won', async (request: WithId) => everything(portal.updateDeal(request.params.id, { dealstage: 'closedwon' }, person).id));
  app.post('/_sandbox/ui/deals/:id/lost', async (request: WithId) =>
    everything(portal.updateDeal(request.params.id, { dealstage: 'closedlost', closed_lost_reason: request.body?.reason ?? null }, person).id),
  );
  app.delete('/_sandbox/ui/deals/:id', async (request: WithId, reply) => {
    portal.archiveDeal(request.params.id, person);
    return reply.code(204).send();
  });
  app.post('/_sandbox/ui/deals/:id/restore', async (request: WithId) => everything(portal.restoreDeal(request.params.id, person).id));
  app.post('/_sandbox/ui/deals/:id/contacts/:contactId', async (request: FastifyRequest<{ Params: { id: string; contactId: string } }>) => {
    portal.setAssociation(request.params.id, request.params.contactId, true, person);
    return { associated: true };
  });
  app.post('/_sandbox/ui/deals/merge', async (request: FastifyRequest<{ Body: { primaryId?: string; mergeId?: string } }>) => {
    const { primaryId, mergeId } = request.body ?? {};
    if (!primaryId || !mergeId) throw badRequest('primaryId and mergeId are required');
    return everything(portal.mergeDeals(primaryId, mergeId, person).id);
  });

  app.post('/_sandbox/faults', async (request: FastifyRequest<{ Body: Partial<ApiFaults & WebhookFaults & { dropWebhooks: number; duplicateWebhooks: number; delayWebhooksMs: number; reorderWebhooks: boolean }> }>) => {
    const body = request.body ?? {};
    Object.assign(context.apiFaults, pick(body, ['latencyMs', 'fail429', 'fail5xx', 'reset']));
    Object.assign(
      dispatcher.faults,
      pick({ drop: body.dropWebhooks, duplicate: body.duplicateWebhooks, delayMs: body.delayWebhooksMs, reorder: body.reorderWebhooks }, ['drop', 'duplicate', 'delayMs', 'reorder']),
    );
    return { api: context.apiFaults, webhooks: dispatcher.faults };
  });
}

function pick<T extends object>(source: T, keys: (keyof T)[]): Partial<T> {
  return Object.fromEntries(keys.filter((k) => source[k] !== undefined).map((k) => [k, source[k]])) as Partial<T>;
}
