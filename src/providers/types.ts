import type { Provider } from '../model/store/schema.ts';
import type { MappingProblem, MappingSettings, SyncFields } from '../model/sync-state/sync-fields.ts';

/**
 * Waits until the connection's rate limits allow a request of this cost. Implemented over Redis
 * by the jobs layer so that every worker process shares one budget per connection.
 */
export interface Pacer {
  take(cost: number, kind?: 'search'): Promise<void>;
}

/** A deal as the CRM has it now, in canonical terms. */
export interface RemoteState {
  remoteId: string;
  /** hs_lastmodifieddate / update_time: a state older than the link's version never wins. */
  version: Date;
  canonicalId: string | undefined;
  fields: Partial<SyncFields>;
  deleted: boolean;
  /** A deal merged away into another (HubSpot `deal.merge`): gone here, its survivor has this id. */
  mergedInto?: string;
  /** Deals merged into this one (HubSpot `hs_merged_object_ids`): their links move here or end. */
  mergedFrom?: string[];
  /** The CRM user who made the change, where the webhook says (Pipedrive meta.user_id): who closed a deal. */
  changedBy?: string;
  /** The CRM's id of the deal's person (Pipedrive person_id), for contactsOf. */
  contactRef?: string;
  /** The ERP's reference, read from the field the connection maps it to (used to match, not synced). */
  externalRef?: string;
  problems: MappingProblem[];
}

/** Where a pull through a CRM's deals stands: modified (or deleted) at or after `since`, from `after` on. */
export interface PullCursor {
  since: string;
  after?: string;
}

/** One page of a pull, oldest change first; `next` is null once there is nothing more. */
export interface PullPage {
  states: RemoteState[];
  next: PullCursor | null;
  /** How many deals the whole pull will see, where the CRM says (HubSpot search). */
  total?: number;
}

/** One deal to write: created when there is no remote id yet, otherwise only `fields` are sent. */
export interface PushRequest {
  canonicalId: string;
  remoteId: string | null;
  fields: Partial<SyncFields>;
  /** A create that was attempted before (a crashed or failed flush): the deal may already exist. */
  mayExist?: boolean;
  /** The primary contact the CRM had before, when `fields.contact` replaces it. */
  replacedContact?: SyncFields['contact'];
}

export interface PushResult {
  canonicalId: string;
  remoteId?: string;
  version?: Date;
  problems: MappingProblem[];
  /**
   * The deal's values after the write, as far as the response shows them, in canonical terms. What
   * the CRM kept instead of what we sent (an unmapped stage, its default stage) becomes the base,
   * so its echo is nothing new and two CRMs never bounce a value they cannot both hold.
   */
  fields?: Partial<SyncFields>;
  /** Set when this deal failed; a retryable error fails the whole flush instead. */
  error?: Error;
}

export interface RemotePipeline {
  id: string;
  label: string;
  stages: { id: string; label: string; order: number; won: boolean; lost: boolean }[];
}

export interface RemoteAccount {
  remoteAccountId: string;
  pipelines: RemotePipeline[];
  owners: { id: string; email: string }[];
}

/** What the sync needs of a CRM; HubSpot and Pipedrive implement it with their official SDKs. */
export interface CrmConnector {
  readonly provider: Provider;
  /** Checks the credentials and describes the account (its id, pipelines, owners). */
  account(): Promise<RemoteAccount>;
  /** Creates the canonical-id property / custom field when missing; returns its name or key. */
  prepare(): Promise<string>;
  push(requests: PushRequest[], settings: MappingSettings): Promise<PushResult[]>;
  remove(remoteId: string): Promise<void>;
  read(remoteIds: string[], settings: MappingSettings): Promise<RemoteState[]>;
  /** The primary contact of each deal (by email and name), for deals new to us: HubSpot's first associated contact, Pipedrive's person. */
  contactsOf(states: RemoteState[]): Promise<Map<string, NonNullable<SyncFields['contact']>>>;
  /** One page of deals modified at or after the cursor, in ascending order of modification. */
  changedSince(cursor: PullCursor, settings: MappingSettings): Promise<PullPage>;
  /** One page of deals deleted at or after the cursor. */
  deletedSince(cursor: PullCursor, settings: MappingSettings): Promise<PullPage>;
  /** Registers our webhook receiver where the CRM's API allows it (Pipedrive); returns its id. */
  registerWebhook?(url: string, auth: { user: string; password: string }): Promise<string>;
}
