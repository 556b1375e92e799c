import type { Owner, Pipeline, PropertyDefinition, PropertyType } from './model.ts';

const fieldTypes: Record<PropertyType, string> = {
  string: 'text',
  number: 'number',
  date: 'date',
  datetime: 'date',
  enumeration: 'select',
  bool: 'booleancheckbox',
};

export function property(
  name: string,
  label: string,
  type: PropertyType,
  extra: Partial<PropertyDefinition> = {},
): PropertyDefinition {
  const epoch = new Date('2020-01-01T00:00:00.000Z');
  return {
    name,
    label,
    type,
    fieldType: fieldTypes[type],
    groupName: 'dealinformation',
    description: '',
    hasUniqueValue: false,
    hubspotDefined: true,
    calculated: false,
    options: [],
    createdAt: epoch,
    updatedAt: epoch,
    ...extra,
  };
}

/** The standard deal properties this project reads or writes; computed ones are read-only. */
export function defaultDealProperties(): PropertyDefinition[] {
  const computed = { calculated: true };
  return [
    property('dealname', 'Deal Name', 'string'),
    property('amount', 'Amount', 'number'),
    property('deal_currency_code', 'Currency', 'enumeration'),
    property('closedate', 'Close Date', 'datetime'),
    property('dealstage', 'Deal Stage', 'enumeration'),
    property('pipeline', 'Pipeline', 'enumeration'),
    property('description', 'Deal Description', 'string'),
    property('hubspot_owner_id', 'Deal owner', 'enumeration'),
    property('closed_lost_reason', 'Closed Lost Reason', 'string'),
    property('closed_won_reason', 'Closed Won Reason', 'string'),
    property('hs_deal_stage_probability', 'Deal probability', 'number', computed),
    property('hs_object_id', 'Record ID', 'number', computed),
    property('createdate', 'Create Date', 'datetime', computed),
    property('hs_lastmodifieddate', 'Last Modified Date', 'datetime', computed),
    property('hs_is_closed', 'Is Deal Closed?', 'bool', computed),
    property('hs_is_closed_won', 'Is Closed Won', 'bool', computed),
    property('hs_closed_won_date', 'Closed won date', 'datetime', computed),
    property('hs_merged_object_ids', 'Merged Deal IDs', 'enumeration', computed),
  ];
}

/** Properties a read returns when the request names none (as the real API does for deals). */
export const defaultReadProperties = [
  'amount',
  'closedate',
  'createdate',
  'dealname',
  'dealstage',
  'hs_lastmodifieddate',
  'hs_object_id',
  'pipeline',
];

/** HubSpot's default sales pipeline, with its stage ids and probabilities. */
export function defaultPipelines(): Pipeline[] {
  const stages: [string, string, number, boolean][] = [
    ['appointmentscheduled', 'Appointment Scheduled', 0.2, false],
    ['qualifiedtobuy', 'Qualified To Buy', 0.4, false],
    ['presentationscheduled', 'Presentation Scheduled', 0.6, false],
    ['decisionmakerboughtin', 'Decision Maker Bought-In', 0.8, false],
    ['contractsent', 'Contract Sent', 0.9, false],
    ['closedwon', 'Closed Won', 1, true],
    ['closedlost', 'Closed Lost', 0, true],
  ];
  return [
    {
      id: 'default',
      label: 'Sales Pipeline',
      displayOrder: 0,
      stages: stages.map(([id, label, probability, isClosed], displayOrder) => ({ id, label, displayOrder, probability, isClosed })),
    },
  ];
}

export function defaultOwners(): Owner[] {
  return [
    { id: '101', email: 'ana@sandbox.example', firstName: 'Ana', lastName: 'Silva', userId: 9001 },
    { id: '102', email: 'ben@sandbox.example', firstName: 'Ben', lastName: 'Okafor', userId: 9002 },
  ];
}
