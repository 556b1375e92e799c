/** The sandbox's in-memory HubSpot portal. */
export interface HistoryEntry {
  value: string;
  timestamp: string;
  sourceType: string;
  sourceId?: string;
}

export interface Deal {
  id: string;
  properties: Record<string, string>;
  history: Record<string, HistoryEntry[]>;
  createdAt: Date;
  updatedAt: Date;
  archived: boolean;
  archivedAt?: Date;
  /** Set when the deal was merged away; reads of the old id resolve to this one. */
  mergedInto?: string;
}

/** Contacts are CRM objects of the same shape; the sandbox keeps only what deal sync needs of them. */
export type Contact = Deal;

export type PropertyType = 'string' | 'number' | 'date' | 'datetime' | 'enumeration' | 'bool';

export interface PropertyDefinition {
  name: string;
  label: string;
  type: PropertyType;
  fieldType: string;
  groupName: string;
  description: string;
  hasUniqueValue: boolean;
  hubspotDefined: boolean;
  calculated: boolean;
  options: { label: string; value: string; displayOrder: number; hidden: boolean }[];
  createdAt: Date;
  updatedAt: Date;
}

export interface Stage {
  id: string;
  label: string;
  displayOrder: number;
  probability: number;
  isClosed: boolean;
}

export interface Pipeline {
  id: string;
  label: string;
  displayOrder: number;
  stages: Stage[];
}

export interface Owner {
  id: string;
  email: string;
  firstName: string;
  lastName: string;
  userId: number;
}

/** Who made a change: the API (an integration) or a person in HubSpot's own UI. */
export interface ChangeSource {
  sourceType: 'INTEGRATION' | 'CRM_UI';
  sourceId: string;
}
