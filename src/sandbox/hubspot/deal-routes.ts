import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, HubSpotError, notFound } from './errors.ts';
import type { ChangeSource, Deal } from './model.ts';
import type { Portal } from './portal.ts';
import { searchDeals, type SearchRequest } from './search.ts';
import { listParam, serializeDeal, type ReadOptions } from './serialize.ts';

type Query = Record<string, string | string[] | undefined>;
type Properties = Record<string, string | null>;
const BATCH_MAX = 100;

/** Changes made through the API are attributed to the integration, as the real webhooks report them. */
export const apiSource = (appId: number): ChangeSource => ({ sourceType: 'INTEGRATION', sourceId: String(appId) });

function readOptions(query: Query): ReadOptions {
  return { properties: listParam(query.properties), propertiesWithHistory: listParam(query.propertiesWithHistory) };
}

function findByIdOrProperty(portal: Portal, id: string, idProperty: string | undefined): Deal {
  if (!idProperty || idProperty === 'hs_object_id') return portal.live(id);
  portal.assertUniqueProperty(idProperty);
  const deal = portal.byUniqueProperty(idProperty, id);
  if (!deal) throw notFound(id);
  return deal;
}

function inputs<T>(body: unknown): T[] {
  const list = (body as { inputs?: T[] } | undefined)?.inputs;
  if (!Array.isArray(list)) throw badRequest('Invalid input JSON: inputs is required');
  if (list.length > BATCH_MAX) throw badRequest(`Batch size must be at most ${BATCH_MAX}; got ${list.length}`);
  return list;
}

function batchResponse(results: unknown[], errors: HubSpotError[], startedAt: Date) {
  const body: Record<string, unknown> = {
    status: 'COMPLETE',
    results,
    startedAt: startedAt.toISOString(),
    completedAt: new Date().toISOString(),
  };
  if (errors.length) Object.assign(body, { numErrors: errors.length, errors: errors.map((e) => e.body()) });
  return { statusCode: errors.length ? 207 : 200, body };
}

export function dealRoutes(app: FastifyInstance, portal: Portal, appId: number, prefix: string) {
  const source = apiSource(appId);

  app.get(prefix, async (request: FastifyRequest<{ Querystring: Query }>) => {
    const limit = Math.min(Number(request.query.limit ?? 10), 100);
    const after = Number(request.query.after ?? 0);
    const archived = request.query.archived === 'true';
    const deals = [...portal.deals.values()]
      .filter((d) => !d.mergedInto && d.archived === archived && Number(d.id) > after)
      .sort((a, b) => Number(a.id) - Number(b.id));
    const page = deals.slice(0, limit);
    const body: Record<string, unknown> = { results: page.map((d) => serializeDeal(d, readOptions(request.query))) };
    if (deals.length > limit) {
      const next = page[page.length - 1]!.id;
      body.paging = { next: { after: next, link: `${prefix}?after=${next}` } };
    }
    return body;
  });

  app.get(`${prefix}/:dealId`, async (request: FastifyRequest<{ Params: { dealId: string }; Querystring: Query }>) => {
    const idProperty = request.query.idProperty as string | undefined;
    return serializeDeal(findByIdOrProperty(portal, request.params.dealId, idProperty), readOptions(request.query));
  });

  app.post(prefix, async (request: FastifyRequest<{ Body: { properties?: Properties } }>, reply) => {
    const deal = portal.createDeal(request.body?.properties ?? {}, source);
    return reply.code(201).send(serializeDeal(deal, { properties: Object.keys(request.body?.properties ?? {}) }));
  });

  app.patch(`${prefix}/:dealId`, async (request: FastifyRequest<{ Params: { dealId: string }; Querystring: Query; Body: { properties?: Properties } }>) => {
    const target = findByIdOrProperty(portal, request.params.dealId, request.query.idProperty as string | undefined);
    const properties = request.body?.properties ?? {};
    const deal = portal.updateDeal(target.id, properties, source);
    return serializeDeal(deal, { properties: Object.keys(properties) });
  });

  app.delete(`${prefix}/:dealId`, async (request: FastifyRequest<{ Params: { dealId: string } }>, reply) => {
    portal.archiveDeal(request.params.dealId, source);
    return reply.code(204).send();
  });

  app.post(`${prefix}/merge`, async (request: FastifyRequest<{ Body: { primaryObjectId?: string; objectIdToMerge?: string } }>) => {
    const { primaryObjectId, objectIdToMerge } = request.body ?? {};
    if (!primaryObjectId || !objectIdToMerge) throw badRequest('primaryObjectId and objectIdToMerge are required');
    return serializeDeal(portal.mergeDeals(String(primaryObjectId), String(objectIdToMerge), source));
  });

  app.post(`${prefix}/search`, async (request: FastifyRequest<{ Body: SearchRequest }>) => {
    const body = request.body ?? {};
    const { total, page, next } = searchDeals(portal.deals.values(), body, portal.properties);
    const response: Record<string, unknown> = {
      total,
      results: page.map((d) => serializeDeal(d, { properties: body.properties }, ['createdate', 'hs_lastmodifieddate', 'hs_object_id'])),
    };
    if (next) response.paging = { next: { after: next } };
    return response;
  });

  batchRoutes(app, portal, source, prefix);
}

function batchRoutes(app: FastifyInstance, portal: Portal, source: ChangeSource, prefix: string) {
  app.post(`${prefix}/batch/read`, async (request: FastifyRequest<{ Body: ReadOptions & { idProperty?: string } }>, reply) => {
    const started = new Date();
    const results: unknown[] = [];
    const errors: HubSpotError[] = [];
    for (const { id } of inputs<{ id: string }>(request.body)) {
      try {
        results.push(serializeDeal(findByIdOrProperty(portal, String(id), request.body.idProperty), request.body));
      } catch (error) {
        errors.push(error as HubSpotError);
      }
    }
    const { statusCode, body } = batchResponse(results, errors, started);
    return reply.code(statusCode).send(body);
  });

  app.post(`${prefix}/batch/create`, async (request, reply) => {
    const started = new Date();
    const list = inputs<{ properties?: Properties }>(request.body);
    // The real batch create is all-or-nothing: validate every input before creating any.
    list.forEach((input) => portal.validate(input.properties ?? {}, undefined));
    const deals = list.map((input) => portal.createDeal(input.properties ?? {}, source));
    return reply.code(201).send(batchResponse(deals.map((d) => serializeDeal(d)), [], started).body);
  });

  app.post(`${prefix}/batch/update`, async (request, reply) => {
    const started = new Date();
    const results: unknown[] = [];
    const errors: HubSpotError[] = [];
    for (const input of inputs<{ id: string; idProperty?: string; properties?: Properties }>(request.body)) {
      try {
        const target = findByIdOrProperty(portal, String(input.id), input.idProperty);
        results.push(serializeDeal(portal.updateDeal(target.id, input.properties ?? {}, source)));
      } catch (error) {
        errors.push(error as HubSpotError);
      }
    }
    const { statusCode, body } = batchResponse(results, errors, started);
    return reply.code(statusCode).send(body);
  });

  app.post(`${prefix}/batch/upsert`, async (request) => {
    const started = new Date();
    const results = inputs<{ id: string; idProperty?: string; properties?: Properties }>(request.body).map((input) => {
      if (!input.idProperty) throw badRequest('idProperty is required for upsert');
      portal.assertUniqueProperty(input.idProperty);
      const existing = portal.byUniqueProperty(input.idProperty, String(input.id));
      const properties = { ...input.properties, [input.idProperty]: String(input.id) };
      const deal = existing ? portal.updateDeal(existing.id, properties, source) : portal.createDeal(properties, source);
      // Like create and update, the answer carries the properties that were written.
      return { ...serializeDeal(deal, { properties: Object.keys(properties) }), new: !existing };
    });
    return batchResponse(results, [], started).body;
  });

  app.post(`${prefix}/batch/archive`, async (request, reply) => {
    for (const { id } of inputs<{ id: string }>(request.body)) portal.archiveDeal(String(id), source);
    return reply.code(204).send();
  });
}
