import type { AttributeType, OpportunityState, opportunities } from '../model/store/schema.ts';

type OpportunityRow = typeof opportunities.$inferSelect;

/**
 * How two values of a field are compared. `exact`: as JSON. `decimal`: as exact decimals, so
 * "1200.00" and 1200 are one amount (CRMs hand amounts back in their own form). `state`: exact, and
 * the CRMs, which know no "abandoned", hold it as lost. `keyed`: an object compared key by key
 * (attributes: one changed key sends one value, a removed key null).
 */
export type Equality = 'exact' | 'decimal' | 'state' | 'keyed';
export type Direction = 'both' | 'inbound' | 'outbound';

interface FieldSpec {
  /** The opportunity column that holds it; null for the primary contact (a relation, not a column). */
  column: keyof OpportunityRow | null;
  equality: Equality;
  /** Where changes flow unless a connection says otherwise. */
  direction: Direction;
  /** Whether a connection may set this field's direction and conflict policy. */
  configurable: boolean;
}

/** A field's declaration, carrying its canonical value type. */
const field = <Value>() => <const Spec extends FieldSpec>(spec: Spec) => spec as Spec & { readonly value?: [Value] };
const plain = { equality: 'exact', direction: 'both', configurable: true } as const;

/**
 * The field registry: every canonical field that syncs with CRMs, declared once. The diff and the
 * three-way merge (src/sync), reading an opportunity's sync fields, writing a CRM's values to
 * canonical, creating an opportunity from a CRM deal, the direction and policy settings, and the
 * timeline and events all derive from it. Each provider folder maps every field here to its CRM's
 * own (src/providers/<crm>/fields.ts); the compiler asks for a mapping when a field is added.
 */
export const syncedFields = {
  title: field<string>()({ ...plain, column: 'title' }),
  description: field<string | null>()({ ...plain, column: 'description' }),
  amount: field<string | null>()({ ...plain, column: 'amount', equality: 'decimal' }),
  currency: field<string>()({ ...plain, column: 'currency' }),
  closeDate: field<string | null>()({ ...plain, column: 'closeDate' }),
  state: field<OpportunityState>()({ ...plain, column: 'state', equality: 'state' }),
  stage: field<string | null>()({ ...plain, column: 'stage' }),
  pipeline: field<string | null>()({ ...plain, column: 'pipeline' }),
  probability: field<number | null>()({ ...plain, column: 'probability' }),
  source: field<string | null>()({ ...plain, column: 'source' }),
  lostReason: field<string | null>()({ ...plain, column: 'lostReason' }),
  assigneeId: field<string | null>()({ ...plain, column: 'assigneeId' }),
  attributes: field<Record<string, unknown>>()({ ...plain, column: 'attributes', equality: 'keyed' }),
  /** The primary contact, by the identity CRMs match people on: the email (and a name to create one). */
  contact: field<{ email: string | null; name: string } | null>()({ ...plain, column: null, configurable: false }),
};

export type SyncFieldName = keyof typeof syncedFields;

/**
 * The canonical fields that sync with CRMs, in the form the sync rules compare (three-way merge
 * bases are snapshots of this shape). `undefined` means "this side says nothing about the field".
 */
export type SyncFields = { [K in SyncFieldName]: NonNullable<(typeof syncedFields)[K]['value']>[0] };

export const syncFieldKeys = Object.keys(syncedFields) as SyncFieldName[];

/** The fields whose direction and conflict policy a connection can set. */
export const configurableFieldNames = syncFieldKeys.filter((k) => syncedFields[k].configurable) as [SyncFieldName, ...SyncFieldName[]];

/** The canonical fields that sync, read from an opportunity row (the contact comes from its relation). */
export function syncFieldsOf(row: OpportunityRow, contact: SyncFields['contact'] = null): SyncFields {
  const fields: Record<string, unknown> = { contact };
  for (const key of syncFieldKeys) {
    const column = syncedFields[key].column;
    if (column) fields[key] = row[column];
  }
  return fields as SyncFields;
}

/** Per connection: how canonical keys and ids translate to the CRM's. Built in the connection settings. */
export interface MappingSettings {
  /** The custom property (HubSpot) or field key (Pipedrive) that carries the canonical id. */
  canonicalIdField: string;
  /** Canonical stage key ↔ the CRM's pipeline and stage ids. */
  stages: { stage: string; pipelineId: string; stageId: string }[];
  /** Canonical pipeline key ↔ the CRM's pipeline id. */
  pipelines: { pipeline: string; pipelineId: string }[];
  /** The pipeline new deals go to when their stage is unmapped or empty. */
  defaultPipelineId: string;
  /** Per pipeline, the CRM's won and lost stages (HubSpot closes deals by stage). */
  closedStages: Record<string, { won: string; lost: string }>;
  /** Canonical user ↔ CRM owner, matched by email when the connection is set up. */
  owners: { userId: string; ownerId: string }[];
  /** Canonical attribute key ↔ the CRM's custom property or field key. */
  attributes: { key: string; remote: string; type: AttributeType }[];
  /** The CRM's property or field key holding the ERP's external reference, if it has one. */
  externalRefField?: string;
  /** The CRM's property or field key holding the opportunity's source; unset, source does not sync. */
  sourceField?: string;
}

/** CRMs hand custom values back as text (HubSpot) or loosely typed (Pipedrive): restore the canonical type. */
export function attributeFromRemote(type: AttributeType, value: unknown): unknown {
  if (value === null || value === undefined || value === '') return null;
  switch (type) {
    case 'number':
      // Not a number: passed on as it is, so inbound validation reports it instead of clearing the value.
      return Number.isFinite(Number(value)) ? Number(value) : value;
    case 'boolean':
      return value === true || value === 'true';
    case 'date':
      return String(value).slice(0, 10);
    case 'text':
    case 'enum':
      return String(value);
  }
}

/** What a mapping could not translate; reported on the link and the connection, never dropped silently. */
export interface MappingProblem {
  field: string;
  value: string;
  message: string;
}
