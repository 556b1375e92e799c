import type { Deal, DealField, Person, Pipeline, Stage } from './model.ts';
import { rfc3339 } from './model.ts';

/** A deal as API v2 returns it; `custom_fields` limited to the requested keys when asked. */
export function dealV2(deal: Deal, customFieldKeys?: string[]) {
  const custom_fields = customFieldKeys
    ? Object.fromEntries(customFieldKeys.map((k) => [k, deal.custom_fields[k] ?? null]))
    : deal.custom_fields;
  return {
    id: deal.id,
    title: deal.title,
    creator_user_id: deal.creator_user_id,
    owner_id: deal.owner_id,
    value: deal.value,
    person_id: deal.person_id,
    org_id: deal.org_id,
    stage_id: deal.stage_id,
    pipeline_id: deal.pipeline_id,
    currency: deal.currency,
    add_time: rfc3339(deal.add_time),
    update_time: rfc3339(deal.update_time),
    stage_change_time: rfc3339(deal.stage_change_time),
    is_deleted: deal.deleted_time !== null,
    is_archived: false,
    status: deal.deleted_time ? 'deleted' : deal.status,
    probability: deal.probability,
    lost_reason: deal.lost_reason,
    visible_to: 3,
    close_time: rfc3339(deal.close_time),
    won_time: rfc3339(deal.won_time),
    lost_time: rfc3339(deal.lost_time),
    expected_close_date: deal.expected_close_date,
    label_ids: [],
    origin: 'API',
    origin_id: null,
    channel: null,
    channel_id: null,
    custom_fields,
  };
}

/**
 * Webhooks v2 carry custom fields in their own shape, not the API's: each value is an object with
 * its type (`{type: "varchar", value: "x"}`), and monetary fields add the currency.
 */
export function dealWebhook(deal: Partial<Deal>, fields: DealField[]) {
  const body: Record<string, unknown> = { ...deal };
  for (const key of ['add_time', 'update_time', 'stage_change_time', 'won_time', 'lost_time', 'close_time'] as const) {
    if (key in deal) body[key] = rfc3339(deal[key] as Date | null);
  }
  delete body.deleted_time;
  if ('deleted_time' in deal) body.is_deleted = deal.deleted_time !== null;
  if (deal.custom_fields) {
    body.custom_fields = Object.fromEntries(
      Object.entries(deal.custom_fields).map(([key, value]) => {
        const type = fields.find((f) => f.field_code === key)?.field_type ?? 'varchar';
        return [key, value === null ? null : { type, value }];
      }),
    );
  }
  return body;
}

export function fieldV2(field: DealField) {
  return {
    field_name: field.field_name,
    field_code: field.field_code,
    field_type: field.field_type,
    options: field.options,
    subfields: null,
    is_custom_field: field.is_custom_field,
    is_optional_response_field: false,
  };
}

export function stageV2(stage: Stage) {
  return {
    id: stage.id,
    order_nr: stage.order_nr,
    name: stage.name,
    is_deleted: false,
    deal_probability: stage.deal_probability,
    pipeline_id: stage.pipeline_id,
    is_deal_rot_enabled: false,
    days_to_rotten: null,
    add_time: '2024-01-01T00:00:00Z',
    update_time: '2024-01-01T00:00:00Z',
  };
}

export function pipelineV2(pipeline: Pipeline) {
  return {
    id: pipeline.id,
    name: pipeline.name,
    order_nr: pipeline.order_nr,
    is_deleted: false,
    is_deal_probability_enabled: true,
    add_time: '2024-01-01T00:00:00Z',
    update_time: '2024-01-01T00:00:00Z',
    is_selected: true,
  };
}

export function personV2(person: Person) {
  return {
    id: person.id,
    name: person.name,
    first_name: person.name.split(' ')[0],
    last_name: person.name.split(' ').slice(1).join(' '),
    owner_id: person.owner_id,
    org_id: null,
    add_time: rfc3339(person.add_time),
    update_time: rfc3339(person.update_time),
    emails: person.emails,
    phones: [],
    is_deleted: false,
    visible_to: 3,
    label_ids: [],
    picture_id: null,
    custom_fields: {},
  };
}
