import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Company, DealInput } from './company.ts';
import { badRequest, notFound } from './errors.ts';
import type { Deal } from './model.ts';
import { dealV2, fieldV2, personV2, pipelineV2, stageV2 } from './serialize.ts';

type Query = Record<string, string | undefined>;
const LIMIT_MAX = 500;

/** Cursors are opaque to clients; here they are the offset of the next item. */
function page<T>(items: T[], query: Query) {
  const limit = Math.min(Number(query.limit ?? 100), LIMIT_MAX);
  if (!Number.isInteger(limit) || limit < 1) throw badRequest('limit must be a positive integer');
  const offset = query.cursor ? Number(Buffer.from(query.cursor, 'base64url').toString()) : 0;
  if (!Number.isInteger(offset) || offset < 0) throw badRequest('Invalid cursor');
  const slice = items.slice(offset, offset + limit);
  const next = offset + limit < items.length ? Buffer.from(String(offset + limit)).toString('base64url') : null;
  return { success: true, data: slice, additional_data: { next_cursor: next } };
}

const sorters: Record<string, (d: Deal) => number> = {
  id: (d) => d.id,
  update_time: (d) => d.update_time.getTime(),
  add_time: (d) => d.add_time.getTime(),
};

function filterDeals(company: Company, q: Query): Deal[] {
  const statuses = q.status?.split(',');
  const ids = q.ids?.split(',').map(Number);
  const since = q.updated_since ? Date.parse(q.updated_since) : undefined;
  const until = q.updated_until ? Date.parse(q.updated_until) : undefined;
  const deals = company.visibleDeals().filter((d) => {
    const status = d.deleted_time ? 'deleted' : d.status;
    if (statuses ? !statuses.includes(status) : status === 'deleted') return false;
    if (ids && !ids.includes(d.id)) return false;
    if (since !== undefined && d.update_time.getTime() < since) return false;
    if (until !== undefined && d.update_time.getTime() >= until) return false;
    for (const key of ['owner_id', 'person_id', 'pipeline_id', 'stage_id'] as const) {
      if (q[key] !== undefined && d[key] !== Number(q[key])) return false;
    }
    return true;
  });
  const key = sorters[q.sort_by ?? 'id'];
  if (!key) throw badRequest('Invalid sort_by');
  const direction = q.sort_direction === 'desc' ? -1 : 1;
  return deals.sort((a, b) => (key(a) - key(b) || a.id - b.id) * direction);
}

const customKeys = (q: Query) => q.custom_fields?.split(',').filter(Boolean);
const idParam = (request: FastifyRequest<{ Params: { id: string } }>) => {
  const id = Number(request.params.id);
  if (!Number.isInteger(id) || id < 1) throw badRequest('id must be a positive integer');
  return id;
};

export function v2Routes(app: FastifyInstance, company: Company) {
  app.get('/api/v2/deals', async (request: FastifyRequest<{ Querystring: Query }>) => {
    const result = page(filterDeals(company, request.query), request.query);
    return { ...result, data: result.data.map((d) => dealV2(d, customKeys(request.query))) };
  });
  app.get('/api/v2/deals/search', async (request: FastifyRequest<{ Querystring: Query }>) => searchDeals(company, request.query));
  app.get('/api/v2/deals/:id', async (request: FastifyRequest<{ Params: { id: string }; Querystring: Query }>) => ({
    success: true,
    data: dealV2(company.deal(idParam(request)), customKeys(request.query)),
  }));
  app.post('/api/v2/deals', async (request: FastifyRequest<{ Body: DealInput }>) => ({
    success: true,
    data: dealV2(company.createDeal(request.body ?? {}, 'api')),
  }));
  app.patch('/api/v2/deals/:id', async (request: FastifyRequest<{ Params: { id: string }; Body: DealInput }>) => ({
    success: true,
    data: dealV2(company.updateDeal(idParam(request), request.body ?? {}, 'api')),
  }));
  app.delete('/api/v2/deals/:id', async (request: FastifyRequest<{ Params: { id: string } }>) => ({
    success: true,
    data: { id: company.deleteDeal(idParam(request), 'api').id },
  }));
  metadataRoutes(app, company);
  personRoutes(app, company);
}

/** Title and custom-field search; exact_match compares whole values, otherwise substrings (min. 2 characters). */
function searchDeals(company: Company, q: Query) {
  const term = (q.term ?? '').toLowerCase();
  if (term.length < (q.exact_match === 'true' ? 1 : 2)) throw badRequest('Search term must be at least 2 characters long');
  const fields = q.fields?.split(',') ?? ['title', 'custom_fields', 'notes'];
  const hit = (value: unknown) => {
    if (value === null || value === undefined) return false;
    const text = String(value).toLowerCase();
    return q.exact_match === 'true' ? text === term : text.includes(term);
  };
  const items = company
    .visibleDeals()
    .filter((d) => !d.deleted_time && (!q.status || d.status === q.status))
    .filter((d) => (fields.includes('title') && hit(d.title)) || (fields.includes('custom_fields') && Object.values(d.custom_fields).some(hit)))
    .map((d) => ({
      result_score: 1,
      item: {
        id: d.id,
        type: 'deal',
        title: d.title,
        value: d.value,
        currency: d.currency,
        status: d.status,
        visible_to: 3,
        owner: { id: d.owner_id },
        stage: { id: d.stage_id, name: company.stages.find((s) => s.id === d.stage_id)?.name ?? '' },
        person: null,
        organization: null,
        custom_fields: Object.values(d.custom_fields).filter((v) => v !== null).map(String),
        notes: [],
      },
    }));
  const result = page(items, q);
  return { success: true, data: { items: result.data }, additional_data: result.additional_data };
}

function metadataRoutes(app: FastifyInstance, company: Company) {
  app.get('/api/v2/dealFields', async (request: FastifyRequest<{ Querystring: Query }>) => {
    const result = page(company.fields, request.query);
    return { ...result, data: result.data.map(fieldV2) };
  });
  app.get('/api/v2/dealFields/:field_code', async (request: FastifyRequest<{ Params: { field_code: string } }>) => {
    const field = company.fields.find((f) => f.field_code === request.params.field_code);
    if (!field) throw notFound('Field');
    return { success: true, data: fieldV2(field) };
  });
  app.post('/api/v2/dealFields', async (request: FastifyRequest<{ Body: { field_name?: string; field_type?: string; options?: { label: string }[] } }>) => {
    const { field_name, field_type, options } = request.body ?? {};
    if (!field_name || !field_type) throw badRequest('field_name and field_type are required');
    return { success: true, data: fieldV2(company.addField(field_name, field_type, options)) };
  });
  app.get('/api/v2/stages', async (request: FastifyRequest<{ Querystring: Query }>) => {
    const stages = company.stages.filter((s) => !request.query.pipeline_id || s.pipeline_id === Number(request.query.pipeline_id));
    const result = page(stages, request.query);
    return { ...result, data: result.data.map(stageV2) };
  });
  app.get('/api/v2/stages/:id', async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const stage = company.stages.find((s) => s.id === idParam(request));
    if (!stage) throw notFound('Stage');
    return { success: true, data: stageV2(stage) };
  });
  app.get('/api/v2/pipelines', async (request: FastifyRequest<{ Querystring: Query }>) => {
    const result = page(company.pipelines, request.query);
    return { ...result, data: result.data.map(pipelineV2) };
  });
  app.get('/api/v2/pipelines/:id', async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const pipeline = company.pipelines.find((p) => p.id === idParam(request));
    if (!pipeline) throw notFound('Pipeline');
    return { success: true, data: pipelineV2(pipeline) };
  });
}

function personRoutes(app: FastifyInstance, company: Company) {
  app.get('/api/v2/persons', async (request: FastifyRequest<{ Querystring: Query }>) => {
    const result = page([...company.persons.values()], request.query);
    return { ...result, data: result.data.map(personV2) };
  });
  app.get('/api/v2/persons/search', async (request: FastifyRequest<{ Querystring: Query }>) => {
    const term = (request.query.term ?? '').toLowerCase();
    if (term.length < 2) throw badRequest('Search term must be at least 2 characters long');
    const items = [...company.persons.values()]
      .filter((p) => p.name.toLowerCase().includes(term) || p.emails.some((e) => e.value.toLowerCase() === term))
      .map((p) => ({ result_score: 1, item: { id: p.id, type: 'person', name: p.name, phones: [], emails: p.emails.map((e) => e.value), visible_to: 3, owner: { id: p.owner_id }, organization: null, custom_fields: [], notes: [] } }));
    const result = page(items, request.query);
    return { success: true, data: { items: result.data }, additional_data: result.additional_data };
  });
  app.get('/api/v2/persons/:id', async (request: FastifyRequest<{ Params: { id: string } }>) => {
    const person = company.persons.get(idParam(request));
    if (!person) throw notFound('Person');
    return { success: true, data: personV2(person) };
  });
  app.post('/api/v2/persons', async (request: FastifyRequest<{ Body: { name?: string; emails?: { value: string }[] } }>) => {
    if (!request.body?.name) throw badRequest('Name is required');
    return { success: true, data: personV2(company.addPerson(request.body.name, request.body.emails?.[0]?.value)) };
  });
}
