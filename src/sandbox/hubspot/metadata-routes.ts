import type { FastifyInstance, FastifyRequest } from 'fastify';
import { property } from './defaults.ts';
import { badRequest, HubSpotError } from './errors.ts';
import type { Pipeline, PropertyDefinition, PropertyType } from './model.ts';
import type { Portal } from './portal.ts';

const epoch = '2020-01-01T00:00:00.000Z';

function serializeProperty(p: PropertyDefinition) {
  return {
    name: p.name,
    label: p.label,
    type: p.type,
    fieldType: p.fieldType,
    description: p.description,
    groupName: p.groupName,
    options: p.options,
    displayOrder: -1,
    calculated: p.calculated,
    externalOptions: false,
    hasUniqueValue: p.hasUniqueValue,
    hidden: false,
    hubspotDefined: p.hubspotDefined,
    modificationMetadata: { archivable: !p.hubspotDefined, readOnlyDefinition: p.hubspotDefined, readOnlyValue: p.calculated },
    formField: !p.calculated,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
    archived: false,
  };
}

function serializePipeline(p: Pipeline) {
  return {
    id: p.id,
    label: p.label,
    displayOrder: p.displayOrder,
    createdAt: epoch,
    updatedAt: epoch,
    archived: false,
    stages: p.stages.map((s) => ({
      id: s.id,
      label: s.label,
      displayOrder: s.displayOrder,
      // The v3 pipelines API sends stage metadata as strings.
      metadata: { isClosed: String(s.isClosed), probability: String(s.probability) },
      createdAt: epoch,
      updatedAt: epoch,
      archived: false,
      writePermissions: 'CRM_PERMISSIONS_ENFORCEMENT',
    })),
  };
}

const propertyTypes: PropertyType[] = ['string', 'number', 'date', 'datetime', 'enumeration', 'bool'];

export function metadataRoutes(app: FastifyInstance, portal: Portal) {
  app.get('/crm/v3/properties/deals', async () => ({ results: [...portal.properties.values()].map(serializeProperty) }));

  app.get('/crm/v3/properties/deals/:name', async (request: FastifyRequest<{ Params: { name: string } }>) => {
    const definition = portal.properties.get(request.params.name);
    if (!definition) throw new HubSpotError(404, 'OBJECT_NOT_FOUND', `Unable to find property ${request.params.name}`);
    return serializeProperty(definition);
  });

  app.post('/crm/v3/properties/deals', async (request: FastifyRequest<{ Body: Partial<PropertyDefinition> }>, reply) => {
    const { name, label, type, fieldType, groupName, hasUniqueValue, options, description } = request.body ?? {};
    if (!name || !label || !type || !fieldType || !groupName) {
      throw badRequest('name, label, type, fieldType and groupName are required');
    }
    if (!propertyTypes.includes(type)) throw badRequest(`${type} is not a valid property type`);
    if (portal.properties.has(name)) {
      throw new HubSpotError(409, 'OBJECT_ALREADY_EXISTS', `A property named '${name}' already exists.`);
    }
    const now = new Date();
    const definition = property(name, label, type, {
      fieldType,
      groupName,
      description: description ?? '',
      hasUniqueValue: Boolean(hasUniqueValue),
      hubspotDefined: false,
      options: (options ?? []).map((o, i) => ({ ...o, displayOrder: o.displayOrder ?? i, hidden: o.hidden ?? false })),
      createdAt: now,
      updatedAt: now,
    });
    portal.properties.set(name, definition);
    return reply.code(201).send(serializeProperty(definition));
  });

  app.get('/crm/v3/pipelines/deals', async () => ({ results: portal.pipelines.map(serializePipeline) }));

  app.get('/crm/v3/pipelines/deals/:pipelineId', async (request: FastifyRequest<{ Params: { pipelineId: string } }>) => {
    const pipeline = portal.pipelines.find((p) => p.id === request.params.pipelineId);
    if (!pipeline) throw new HubSpotError(404, 'OBJECT_NOT_FOUND', `Unable to find pipeline ${request.params.pipelineId}`);
    return serializePipeline(pipeline);
  });

  app.get('/crm/v3/owners', async () => ({
    results: portal.owners.map((o) => ({
      id: o.id,
      email: o.email,
      type: 'PERSON',
      firstName: o.firstName,
      lastName: o.lastName,
      userId: o.userId,
      userIdIncludingInactive: o.userId,
      createdAt: epoch,
      updatedAt: epoch,
      archived: false,
    })),
  }));

  app.get('/account-info/v3/details', async () => ({
    portalId: portal.portalId,
    accountType: 'STANDARD',
    timeZone: 'Europe/London',
    companyCurrency: 'EUR',
    additionalCurrencies: ['USD', 'GBP'],
    utcOffset: '+00:00',
    utcOffsetMilliseconds: 0,
    uiDomain: 'app.hubspot.com',
    dataHostingLocation: 'eu1',
  }));
}
