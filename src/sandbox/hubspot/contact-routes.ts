import type { FastifyInstance, FastifyRequest } from 'fastify';
import { apiSource } from './deal-routes.ts';
import { badRequest } from './errors.ts';
import { DEAL_TO_CONTACT, type Portal } from './portal.ts';
import { listParam, serializeDeal } from './serialize.ts';

type Query = Record<string, string | string[] | undefined>;
const contactDefaults = ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'];

/** Basic contacts (create, read by id or email, search by email) and v4 deal↔contact associations. */
export function contactRoutes(app: FastifyInstance, portal: Portal, appId: number) {
  const source = apiSource(appId);
  const serialize = (id: string, query: Query = {}) =>
    serializeDeal(portal.contact(id), { properties: listParam(query.properties) }, contactDefaults);

  app.post('/crm/v3/objects/contacts', async (request: FastifyRequest<{ Body: { properties?: Record<string, string> } }>, reply) =>
    reply.code(201).send(serialize(portal.createContact(request.body?.properties ?? {}).id)),
  );
  app.get('/crm/v3/objects/contacts/:id', async (request: FastifyRequest<{ Params: { id: string }; Querystring: Query }>) => {
    const byEmail = request.query.idProperty === 'email';
    const id = byEmail ? portal.contactByEmail(request.params.id)?.id ?? request.params.id : request.params.id;
    return serialize(id, request.query);
  });
  app.post('/crm/v3/objects/contacts/search', async (request: FastifyRequest<{ Body: { filterGroups?: { filters?: { propertyName: string; operator: string; value?: string }[] }[] } }>) => {
    const filter = request.body?.filterGroups?.[0]?.filters?.[0];
    if (filter?.propertyName !== 'email' || filter.operator !== 'EQ' || !filter.value) {
      throw badRequest('The sandbox searches contacts by email EQ only');
    }
    const found = portal.contactByEmail(filter.value);
    return { total: found ? 1 : 0, results: found ? [serialize(found.id)] : [] };
  });

  app.put('/crm/v4/objects/deals/:dealId/associations/default/contacts/:contactId', async (request: FastifyRequest<{ Params: { dealId: string; contactId: string } }>) => {
    const { dealId, contactId } = request.params;
    portal.setAssociation(dealId, contactId, true, source);
    const now = new Date().toISOString();
    return { status: 'COMPLETE', results: [{ from: { id: dealId }, to: { id: contactId }, associationSpec: DEAL_TO_CONTACT }], startedAt: now, completedAt: now };
  });
  app.delete('/crm/v4/objects/deals/:dealId/associations/contacts/:contactId', async (request: FastifyRequest<{ Params: { dealId: string; contactId: string } }>, reply) => {
    portal.setAssociation(request.params.dealId, request.params.contactId, false, source);
    return reply.code(204).send();
  });
  const associated = (dealId: string) =>
    [...(portal.associations.get(portal.live(dealId).id) ?? [])].map((id) => ({
      toObjectId: id, // a string, as the SDK's generated model types it
      associationTypes: [{ category: DEAL_TO_CONTACT.associationCategory, typeId: DEAL_TO_CONTACT.associationTypeId, label: null }],
    }));
  app.get('/crm/v4/objects/deals/:dealId/associations/contacts', async (request: FastifyRequest<{ Params: { dealId: string } }>) => ({
    results: associated(request.params.dealId),
  }));
  app.post('/crm/v4/associations/deals/contacts/batch/read', async (request: FastifyRequest<{ Body: { inputs?: { id: string }[] } }>) => {
    const now = new Date().toISOString();
    const results = (request.body?.inputs ?? []).map(({ id }) => ({ from: { id: String(id) }, to: associated(String(id)) }));
    return { status: 'COMPLETE', results, startedAt: now, completedAt: now };
  });
}
