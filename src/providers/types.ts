import type { z } from 'zod';
import type { Provider } from '../model/store/schema.ts';
import type { MappingProblem, MappingSettings, SyncFields } from '../sync/fields.ts';
import type { CrmTimeouts } from './timeouts.ts';

/**
 * Waits until the connection's rate limits allow a request of this cost. Implemented over Redis
 * by the jobs layer so that every worker process shares one budget per connection.
 */
export interface Pacer {
  take(cost: number, kind?: 'search'): Promise<void>;
  /**
   * What the CRM's last answer said of today's daily budget (its headers): the budget the pacer
   * keeps to, and the connection's budget view, follow the CRM rather than our defaults. Never throws.
   */
  observeDaily?(daily: DailyBudget): void;
}

/** A CRM's daily budget as its response headers give it: requests (HubSpot) or tokens (Pipedrive). */
export interface DailyBudget {
  /** Absent when the answer said only that nothing remains (HubSpot's 429 with policy DAILY). */
  limit?: number;
  remaining: number;
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
  /** The CRM's id of that contact, where an earlier push learnt it: no search to find it again. */
  replacedContactRemoteId?: string;
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
  /** The CRM's id of the primary contact this push associated with the deal (HubSpot), kept on the link. */
  contactRemoteId?: string;
  /** Set when this deal failed; a retryable error fails the whole flush instead. */
  error?: Error;
}

export interface RemotePipeline {
  id: string;
  label: string;
  stages: { id: string; label: string; order: number; won: boolean; lost: boolean }[];
}

/** A deal field (HubSpot property, Pipedrive field by its key) and its type as the CRM names it. */
export interface RemoteField {
  key: string;
  type: string;
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
  /** The deal fields the CRM has: settings naming a field are checked against them. */
  dealFields(): Promise<RemoteField[]>;
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
}

/** A CRM's rate limits, shared by every worker through the pacer. */
export interface RateLimits {
  windowMs: number;
  /** Requests per window the CRM allows; the pacer admits `headroom` of them. */
  perWindow: number;
  /** Per UTC day: requests or tokens, as the CRM counts them. */
  daily: number;
  /** Search endpoints: their own per-second limit. */
  searchPerSecond?: number;
}

/** OAuth tokens; some CRMs also say which API domain the account lives on. */
export type OAuthCredentials = {
  accessToken: string;
  refreshToken: string;
  issuedAt: number;
  expiresAt: number;
  apiDomain?: string;
};

/**
 * The operator's rules for every CRM call: the hosts besides the CRM's own a connection's
 * credentials may go to (CRM_BASE_URL_HOSTS), and how long a call may take (CRM_*_TIMEOUT_MS;
 * the defaults when not given).
 */
export interface CrmReach {
  allowedHosts: readonly string[];
  timeouts?: CrmTimeouts | undefined;
}

export interface OAuthApp {
  clientId: string;
  clientSecret: string;
}

export type OAuthGrant = { code: string; redirectUri: string } | { refreshToken: string };

/** A webhook request as received, before anything trusts it: signatures are over these raw bytes. */
export interface WebhookRequest {
  method: string;
  /** The exact URI the CRM called (public URL + path and query). */
  uri: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
}

/** A connection a webhook may be for, its webhook secret already opened. */
export interface WebhookTarget {
  id: string;
  remoteAccountId: string | null;
  secret: string | undefined;
}

/** What the receiver lets a provider look up: only this provider's connections. */
export interface WebhookLookup {
  /** The connections of these CRM accounts (routing by the account id in the events). */
  byRemoteAccounts(remoteAccountIds: string[]): Promise<WebhookTarget[]>;
  /** The connection named in the URL, for CRMs whose webhooks are registered per connection. */
  named: WebhookTarget | undefined;
  /** The secret of the operator's app for this CRM (public apps sign with it), if configured. */
  appSecret: string | undefined;
}

export type WebhookVerdict =
  | { refused: { status: 400 | 401; message: string; headers?: Record<string, string> } }
  | {
      deliveries: { connectionId: string; events: unknown[] }[];
      /** Events of the request that were refused while others were taken (the receiver logs them, without their body). */
      refusedEvents?: {
        count: number;
        connectionIds: string[];
        reason: string;
        /** The reason as a short metric label: `crm_sync_webhook_events_refused_total{provider,reason}`. */
        reasonCode: string;
      };
    };

/** What one delivery's events say: the deal ids, the events we could not read, and who closed which deal. */
export interface ParsedEvents {
  ids: string[];
  unreadable: unknown[];
  /** Remote deal id → the CRM user whose event moved the deal's status. */
  closers: Map<string, string>;
}

/** One event an app subscribes to (and the property, for a property change). */
export interface WebhookSubscription {
  eventType: string;
  propertyName?: string;
}

/** Registering the subscriptions with a CRM app's developer API. */
export interface SubscriptionRegistration {
  appId: string;
  developerKey: string;
  /** The CRM's API root when it is not the real one (sandboxes). */
  baseUrl?: string | undefined;
  /** Our receiver, where the app's webhooks are pointed. */
  targetUrl: string;
  settings: MappingSettings;
  /** The operator's CRM_BASE_URL_HOSTS: the developer key goes to the CRM's own API or to these hosts only. */
  allowedHosts: readonly string[];
}

/** What a registration did: subscriptions created, already there (active or not), and others the app has that the sync does not need (left alone). */
export interface RegistrationOutcome {
  created: string[];
  present: string[];
  inactive: string[];
  unwanted: string[];
}

/** How the CRM reaches us once the connection exists. */
export interface WebhookSetup {
  /** Stored sealed with the connection: what the receiver checks requests against. */
  secret: string | null;
  view: { url: string; registered: boolean; instructions?: string };
}

/**
 * Everything crm-sync knows about one CRM, behind one interface: the registry
 * (src/providers/index.ts) holds one per provider and nothing else names a CRM.
 */
export interface ProviderModule {
  readonly id: Provider;
  /** For people: messages, logs. */
  readonly label: string;
  /** The production API root; an operator may let a connection point at another (a sandbox) through CRM_BASE_URL_HOSTS. */
  readonly apiRoot: string;
  /** The CRM's own API hosts (https): its credentials may go there; anywhere else only when the operator lists the host. */
  ownsUrl(url: URL): boolean;
  /** The CRM's lowest tier; a connection's settings may raise them. */
  readonly rateLimits: RateLimits;
  /** The credentials POST /v1/connections takes for this CRM (OAuth codes are common to all). */
  readonly credentialInput: z.ZodType<Record<string, unknown>>;
  /**
   * A connector for stored credentials (as given, or OAuth tokens). It refuses (a fatal connection
   * CrmError, before any request) a URL that is neither the CRM's own nor on `allowedHosts`.
   */
  connector(options: { credentials: unknown; baseUrl: string | undefined; pacer: Pacer } & CrmReach): CrmConnector;
  /** Trades an authorization code or a refresh token for tokens at the CRM's token endpoint (the same URL rule). */
  grantTokens(app: OAuthApp, grant: OAuthGrant, baseUrl: string | undefined, reach: CrmReach): Promise<OAuthCredentials>;
  readonly webhooks: {
    /** `account`: one URL for every connection, routed by the CRM account id in the events; `connection`: one URL each. */
    readonly routedBy: 'account' | 'connection';
    /** Checks who sent the request and splits its events by connection; refuses what it cannot trust. */
    receive(request: WebhookRequest, lookup: WebhookLookup): Promise<WebhookVerdict>;
    parse(events: unknown[]): ParsedEvents;
    /**
     * The credential field holding the secret webhooks are signed with, for CRMs that sign with a
     * secret the connection brings (unless the operator's app secret signs them).
     */
    readonly secretField?: string;
    /** At connection setup: registers our receiver where the API allows, or says what to do by hand. */
    setup(input: { connectionId: string; url: string; credentials: unknown; connector: CrmConnector; appSecret: string | undefined }): Promise<WebhookSetup>;
    /**
     * For CRMs whose apps subscribe to events by hand (setup cannot): every subscription the sync
     * needs with these settings, and a way to register them with the app's developer API.
     */
    subscriptions?(settings: MappingSettings): WebhookSubscription[];
    registerSubscriptions?(input: SubscriptionRegistration): Promise<RegistrationOutcome>;
  };
}
