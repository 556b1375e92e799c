import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, HubSpotError } from './errors.ts';
import type { Subscription, WebhookDispatcher } from './webhook-delivery.ts';

const eventTypes = ['deal.creation', 'deal.propertyChange', 'deal.deletion', 'deal.restore', 'deal.merge', 'deal.associationChange'];

/** The app's webhook settings, managed the real way: the webhooks v3 API with the developer API key. */
export function webhookRoutes(app: FastifyInstance, dispatcher: WebhookDispatcher, appId: number, developerApiKey: string) {
  app.register(async (scope) => {
    scope.addHook('onRequest', async (request: FastifyRequest<{ Params: { appId?: string }; Querystring: { hapikey?: string } }>) => {
      if (request.query.hapikey !== developerApiKey) {
        throw new HubSpotError(401, 'INVALID_AUTHENTICATION', 'The developer API key provided is invalid.');
      }
      if (request.params.appId !== String(appId)) throw new HubSpotError(404, 'OBJECT_NOT_FOUND', `App ${request.params.appId} not found`);
    });

    const settings = () => ({
      targetUrl: dispatcher.targetUrl ?? '',
      throttling: { maxConcurrentRequests: 10 },
      createdAt: '2020-01-01T00:00:00.000Z',
    });

    scope.get('/webhooks/v3/:appId/settings', async () => {
      if (!dispatcher.targetUrl) throw new HubSpotError(404, 'OBJECT_NOT_FOUND', 'No settings configured for this app');
      return settings();
    });

    scope.put('/webhooks/v3/:appId/settings', async (request: FastifyRequest<{ Body: { targetUrl?: string } }>) => {
      const targetUrl = request.body?.targetUrl;
      if (!targetUrl || !/^https?:\/\//.test(targetUrl)) throw badRequest('targetUrl must be an http(s) URL');
      dispatcher.targetUrl = targetUrl;
      return settings();
    });

    scope.get('/webhooks/v3/:appId/subscriptions', async () => ({ results: dispatcher.subscriptions }));

    scope.post('/webhooks/v3/:appId/subscriptions', async (request: FastifyRequest<{ Body: { eventType?: string; propertyName?: string; active?: boolean } }>, reply) => {
      const { eventType, propertyName, active } = request.body ?? {};
      if (!eventType || !eventTypes.includes(eventType)) throw badRequest(`eventType must be one of ${eventTypes.join(', ')}`);
      if (eventType === 'deal.propertyChange' && !propertyName) throw badRequest('propertyName is required for deal.propertyChange');
      return reply.code(201).send(dispatcher.subscribe(eventType, propertyName, active ?? true));
    });

    // The rest of HubSpot's webhooks v3 subscription API (developers.hubspot.com/docs/api/webhooks,
    // "Manage subscriptions"; the paths and bodies of @hubspot/api-client's codegen/webhooks
    // SubscriptionsApi): read one, turn one on or off, and turn many on or off at once. There is no
    // batch create: batch/update takes only {id, active}.
    const subscription = (id: string) => {
      const found = dispatcher.subscriptions.find((s) => s.id === id);
      if (!found) throw new HubSpotError(404, 'OBJECT_NOT_FOUND', `Subscription ${id} not found`);
      return found;
    };
    const activate = (found: Subscription, active: unknown) => {
      if (typeof active !== 'boolean') throw badRequest('active must be true or false');
      Object.assign(found, { active, updatedAt: new Date().toISOString() });
      return found;
    };

    scope.get('/webhooks/v3/:appId/subscriptions/:subscriptionId', async (request: FastifyRequest<{ Params: { subscriptionId: string } }>) => subscription(request.params.subscriptionId));

    scope.patch('/webhooks/v3/:appId/subscriptions/:subscriptionId', async (request: FastifyRequest<{ Params: { subscriptionId: string }; Body: { active?: unknown } }>) =>
      activate(subscription(request.params.subscriptionId), request.body?.active),
    );

    scope.post('/webhooks/v3/:appId/subscriptions/batch/update', async (request: FastifyRequest<{ Body: { inputs?: { id?: unknown; active?: unknown }[] } }>, reply) => {
      const inputs = request.body?.inputs;
      if (!Array.isArray(inputs) || inputs.length === 0 || inputs.some((input) => typeof input?.active !== 'boolean')) throw badRequest('inputs must be a non-empty array of {id, active}');
      const startedAt = new Date().toISOString();
      const missing = inputs.map((input) => String(input.id)).filter((id) => !dispatcher.subscriptions.some((s) => s.id === id));
      const results = inputs.filter((input) => !missing.includes(String(input.id))).map((input) => activate(subscription(String(input.id)), input.active));
      const body = { status: 'COMPLETE', results, startedAt, completedAt: new Date().toISOString() };
      if (missing.length === 0) return body;
      const errors = [{ status: 'error', category: 'OBJECT_NOT_FOUND', message: `Subscriptions not found: ${missing.join(', ')}`, context: { ids: missing } }];
      return reply.code(207).send({ ...body, numErrors: errors.length, errors });
    });

    scope.delete('/webhooks/v3/:appId/subscriptions/:subscriptionId', async (request: FastifyRequest<{ Params: { subscriptionId: string } }>, reply) => {
      const index = dispatcher.subscriptions.findIndex((s) => s.id === request.params.subscriptionId);
      if (index < 0) throw new HubSpotError(404, 'OBJECT_NOT_FOUND', 'Subscription not found');
      dispatcher.subscriptions.splice(index, 1);
      return reply.code(204).send();
    });
  });
}
