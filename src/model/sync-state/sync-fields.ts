import type { AttributeType, OpportunityState } from '../store/schema.ts';

/**
 * The canonical fields that sync with CRMs, in the form the sync rules compare (three-way merge
 * bases are snapshots of this shape). `undefined` means "this side says nothing about the field".
 */
export interface SyncFields {
  title: string;
  description: string | null;
  amount: string | null;
  currency: string;
  closeDate: string | null;
  state: OpportunityState;
  stage: string | null;
  probability: number | null;
  lostReason: string | null;
  assigneeId: string | null;
  attributes: Record<string, unknown>;
  /** The primary contact, by the identity CRMs match people on: the email (and a name to create one). */
  contact: { email: string | null; name: string } | null;
}

/** Per connection: how canonical keys and ids translate to the CRM's. Built in the connection settings. */
export interface MappingSettings {
  /** The custom property (HubSpot) or field key (Pipedrive) that carries the canonical id. */
  canonicalIdField: string;
  /** Canonical stage key ↔ the CRM's pipeline and stage ids. */
  stages: { stage: string; pipelineId: string; stageId: string }[];
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
}

/** CRMs hand custom values back as text (HubSpot) or loosely typed (Pipedrive): restore the canonical type. */
export function attributeFromRemote(type: AttributeType, value: unknown): unknown {
  if (value === null || value === undefined || value === '') return null;
  switch (type) {
    case 'number':
      return Number.isFinite(Number(value)) ? Number(value) : null;
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
