import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Database } from '../../model/store/db.ts';
import { DomainError } from '../../model/store/errors.ts';
import { deliveryView, listDeliveries, replayDelivery } from '../../model/events/event-deliveries.ts';
import { deliveryStatuses } from '../../model/store/schema.ts';
import type { Keyring } from '../../model/store/secrets.ts';
import {
  createSubscription,
  deleteSubscription,
  getSubscription,
  listSubscriptions,
  newSubscriptionView,
  subscriptionCreateSchema,
  subscriptionPatchSchema,
  subscriptionView,
  updateSubscription,
} from '../../model/events/subscriptions.ts';
import { refuseInternalTarget } from '../../orchestration/event-targets.ts';
import { idParams, listOf, pageQuery, problemSchema } from '../http.ts';

const tags = ['subscriptions'];
const errors = { 400: problemSchema, 404: problemSchema, 409: problemSchema, 503: problemSchema };

const deliveryParams = z.strictObject({
  id: z.uuid('must be a UUID'),
  deliveryId: z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/, 'must be a delivery id')
    .transform(Number),
});
const deliveriesQuery = z.strictObject({ ...pageQuery, status: z.enum(deliveryStatuses).optional() });

function requireKeyring(keyring: Keyring | undefined): Keyring {
  if (!keyring) throw new DomainError(503, 'Service Unavailable', 'ENCRYPTION_KEY is not set: crm-sync cannot store signing secrets');
  return keyring;
}

/**
 * Outbound events for workflows. No Idempotency-Key on create: the stored first response would
 * hold the signing secret in the clear.
 */
export function subscriptionRoutes(app: FastifyInstance, db: Database, keyring: Keyring | undefined, eventTargetsAllowed?: readonly string[]) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  // Refused before anything is stored (the sender checks again, at every send).
  const checkUrl = async (url: string | undefined) => {
    if (url !== undefined) await refuseInternalTarget(url, eventTargetsAllowed);
  };

  r.post('/subscriptions', {
    schema: { tags, description: 'Subscribes a URL to event types. The signing secret is in this response only.', body: subscriptionCreateSchema, response: { 201: newSubscriptionView, ...errors } },
  }, async (request, reply) => {
    await checkUrl(request.body.url);
    return reply.code(201).send(await createSubscription(db, requireKeyring(keyring), request.accountId, request.body));
  });

  r.get('/subscriptions', {
    schema: { tags, querystring: z.strictObject(pageQuery), response: { 200: listOf(subscriptionView), 400: problemSchema } },
  }, (request) => listSubscriptions(db, request.accountId, request.query));

  r.get('/subscriptions/:id', {
    schema: { tags, params: idParams, response: { 200: subscriptionView, ...errors } },
  }, (request) => getSubscription(db, request.accountId, request.params.id));

  r.patch('/subscriptions/:id', {
    schema: { tags, params: idParams, body: subscriptionPatchSchema, response: { 200: subscriptionView, ...errors } },
  }, async (request) => {
    await checkUrl(request.body.url);
    return updateSubscription(db, request.accountId, request.params.id, request.body);
  });

  r.delete('/subscriptions/:id', {
    schema: { tags, params: idParams, response: { 204: z.null(), ...errors } },
  }, async (request, reply) => {
    await deleteSubscription(db, request.accountId, request.params.id);
    return reply.code(204).send(null);
  });

  r.get('/subscriptions/:id/deliveries', {
    schema: { tags, description: 'The deliveries and their outcomes, newest first.', params: idParams, querystring: deliveriesQuery, response: { 200: listOf(deliveryView), ...errors } },
  }, (request) => {
    const { status, limit, cursor } = request.query;
    return listDeliveries(db, request.accountId, request.params.id, { status }, { limit, cursor });
  });

  r.post('/subscriptions/:id/deliveries/:deliveryId/replay', {
    schema: { tags, description: 'Sends the delivery again, with the same webhook-id.', params: deliveryParams, response: { 202: deliveryView, ...errors } },
  }, async (request, reply) =>
    reply.code(202).send(await replayDelivery(db, request.accountId, request.params.id, request.params.deliveryId)),
  );
}
