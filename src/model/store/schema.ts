/**
 * The canonical store (DESIGN.md §3). Constraints live here, in the database, so that no code path
 * (API, sync job, a person with psql) can break them.
 */
import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  check,
  date,
  foreignKey,
  index,
  integer,
  json,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';

// Millisecond precision: JavaScript dates carry no more, so cursors built from them stay exact.
const timestamptz = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: 'date' });
const createdAt = () => timestamptz('created_at').notNull().defaultNow();
const updatedAt = () => timestamptz('updated_at').notNull().defaultNow();
const id = () => uuid('id').primaryKey().defaultRandom();
const accountId = () =>
  uuid('account_id')
    .notNull()
    .references(() => accounts.id, { onDelete: 'cascade' });

export const accounts = pgTable(
  'accounts',
  {
    id: id(),
    name: varchar('name', { length: 200 }).notNull(),
    defaultCurrency: varchar('default_currency', { length: 3 }).notNull().default('USD'),
    createdAt: createdAt(),
  },
  (t) => [check('accounts_default_currency_iso', sql`${t.defaultCurrency} ~ '^[A-Z]{3}$'`)],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: id(),
    accountId: accountId(),
    // SHA-256 of the whole key: keys are 256-bit random, so a fast hash is enough and lookups stay O(1).
    keyHash: text('key_hash').notNull().unique(),
    prefix: varchar('prefix', { length: 16 }).notNull(),
    createdAt: createdAt(),
    revokedAt: timestamptz('revoked_at'),
  },
  (t) => [index('api_keys_account_idx').on(t.accountId)],
);

export const users = pgTable(
  'users',
  {
    id: id(),
    accountId: accountId(),
    name: varchar('name', { length: 200 }).notNull(),
    email: varchar('email', { length: 320 }).notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    // CRM owners are matched to users by email, so an email names one user per account.
    uniqueIndex('users_account_email_uq').on(t.accountId, sql`lower(${t.email})`),
    index('users_account_created_idx').on(t.accountId, t.createdAt, t.id),
  ],
);

export const contacts = pgTable(
  'contacts',
  {
    id: id(),
    accountId: accountId(),
    name: varchar('name', { length: 200 }).notNull(),
    email: varchar('email', { length: 320 }),
    phone: varchar('phone', { length: 50 }),
    // Maintained by triggers on opportunity_contacts and opportunities (see the contact_counters migration).
    opportunityCount: integer('opportunity_count').notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    unique('contacts_account_id_uq').on(t.accountId, t.id),
    index('contacts_account_created_idx').on(t.accountId, t.createdAt, t.id),
    index('contacts_account_email_idx').on(t.accountId, sql`lower(${t.email})`),
    check('contacts_opportunity_count_nonnegative', sql`${t.opportunityCount} >= 0`),
  ],
);

export const opportunityStates = ['open', 'won', 'lost', 'abandoned'] as const;
export type OpportunityState = (typeof opportunityStates)[number];

export const opportunities = pgTable(
  'opportunities',
  {
    id: id(),
    accountId: accountId(),
    externalRef: varchar('external_ref', { length: 255 }),
    title: varchar('title', { length: 255 }).notNull(),
    description: text('description'),
    // Unconstrained numeric keeps the scale the client sent ("1234.50" stays "1234.50") and is exact.
    amount: numeric('amount'),
    currency: varchar('currency', { length: 3 }).notNull(),
    closeDate: date('close_date', { mode: 'string' }),
    state: text('state', { enum: opportunityStates }).notNull().default('open'),
    stage: varchar('stage', { length: 100 }),
    pipeline: varchar('pipeline', { length: 100 }),
    probability: smallint('probability'),
    source: varchar('source', { length: 100 }),
    lostReason: varchar('lost_reason', { length: 500 }),
    assigneeId: uuid('assignee_id').references(() => users.id, { onDelete: 'set null' }),
    closedById: uuid('closed_by_id').references(() => users.id, { onDelete: 'set null' }),
    closedAt: timestamptz('closed_at'),
    attributes: jsonb('attributes').$type<Record<string, unknown>>().notNull().default({}),
    version: integer('version').notNull().default(1),
    // When each canonical field last changed: the `newest` conflict policy compares these.
    fieldChangedAt: jsonb('field_changed_at').$type<Record<string, string>>().notNull().default({}),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    // Soft delete: sync must still know the deal's remote links to propagate the deletion.
    deletedAt: timestamptz('deleted_at'),
  },
  (t) => [
    unique('opportunities_account_id_uq').on(t.accountId, t.id),
    // The contract with ERPs: one live opportunity per external reference in an account.
    uniqueIndex('opportunities_account_external_ref_uq')
      .on(t.accountId, t.externalRef)
      .where(sql`${t.externalRef} IS NOT NULL AND ${t.deletedAt} IS NULL`),
    index('opportunities_account_created_idx').on(t.accountId, t.createdAt, t.id),
    index('opportunities_account_state_closed_idx').on(t.accountId, t.state, t.closedAt),
    index('opportunities_account_updated_idx').on(t.accountId, t.updatedAt),
    check('opportunities_state_valid', sql`${t.state} IN ('open', 'won', 'lost', 'abandoned')`),
    check('opportunities_closed_at_matches_state', sql`(${t.state} = 'open') = (${t.closedAt} IS NULL)`),
    check('opportunities_currency_iso', sql`${t.currency} ~ '^[A-Z]{3}$'`),
    check('opportunities_amount_nonnegative', sql`${t.amount} >= 0`),
    check('opportunities_probability_percent', sql`${t.probability} BETWEEN 0 AND 100`),
    check('opportunities_version_positive', sql`${t.version} > 0`),
  ],
);

/** Every contact of an opportunity, the primary one flagged. */
export const opportunityContacts = pgTable(
  'opportunity_contacts',
  {
    accountId: uuid('account_id').notNull(),
    opportunityId: uuid('opportunity_id').notNull(),
    contactId: uuid('contact_id').notNull(),
    isPrimary: boolean('is_primary').notNull().default(false),
  },
  (t) => [
    primaryKey({ columns: [t.opportunityId, t.contactId] }),
    // Composite keys make it impossible to attach another account's contact, whatever the code does.
    foreignKey({
      name: 'opportunity_contacts_opportunity_fk',
      columns: [t.accountId, t.opportunityId],
      foreignColumns: [opportunities.accountId, opportunities.id],
    }).onDelete('cascade'),
    foreignKey({
      name: 'opportunity_contacts_contact_fk',
      columns: [t.accountId, t.contactId],
      foreignColumns: [contacts.accountId, contacts.id],
    }).onDelete('cascade'),
    uniqueIndex('opportunity_contacts_one_primary_uq').on(t.opportunityId).where(sql`${t.isPrimary}`),
    index('opportunity_contacts_contact_idx').on(t.contactId),
  ],
);

export const attributeTypes = ['text', 'number', 'boolean', 'date', 'enum'] as const;
export type AttributeType = (typeof attributeTypes)[number];

export const attributeDefinitions = pgTable(
  'attribute_definitions',
  {
    id: id(),
    accountId: accountId(),
    key: varchar('key', { length: 64 }).notNull(),
    label: varchar('label', { length: 200 }).notNull(),
    type: text('type', { enum: attributeTypes }).notNull(),
    options: jsonb('options').$type<string[]>(),
    createdAt: createdAt(),
  },
  (t) => [
    unique('attribute_definitions_account_key_uq').on(t.accountId, t.key),
    check('attribute_definitions_type_valid', sql`${t.type} IN ('text', 'number', 'boolean', 'date', 'enum')`),
    check('attribute_definitions_enum_has_options', sql`(${t.type} = 'enum') = (${t.options} IS NOT NULL)`),
  ],
);

/** Stored first responses of POSTs sent with an Idempotency-Key, written in the request's own transaction. */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    accountId: accountId(),
    key: varchar('key', { length: 255 }).notNull(),
    requestHash: text('request_hash').notNull(),
    statusCode: smallint('status_code').notNull(),
    responseBody: jsonb('response_body').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.key] }), index('idempotency_keys_created_idx').on(t.createdAt)],
);

// ---- Sync tables, first form: later issues extend these rather than rebuild them. ----

export const providers = ['hubspot', 'pipedrive'] as const;
export type Provider = (typeof providers)[number];

export const connections = pgTable(
  'connections',
  {
    id: id(),
    accountId: accountId(),
    provider: text('provider', { enum: providers }).notNull(),
    status: text('status', { enum: ['active', 'paused', 'error'] }).notNull().default('active'),
    // AES-256-GCM ciphertext; the key id says which ENCRYPTION_KEY sealed it, so keys can rotate.
    credentials: text('credentials').notNull(),
    credentialsKeyId: varchar('credentials_key_id', { length: 64 }).notNull(),
    webhookSecret: text('webhook_secret'),
    settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
    remoteAccountId: varchar('remote_account_id', { length: 100 }),
    reconcileCursor: jsonb('reconcile_cursor'),
    lastError: jsonb('last_error'),
    lastSuccessAt: timestamptz('last_success_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('connections_account_idx').on(t.accountId),
    // Webhooks are routed by the CRM account id (HubSpot portalId), so one CRM account has one connection.
    uniqueIndex('connections_provider_remote_uq').on(t.provider, t.remoteAccountId),
    // The list above, so a new provider is one edit (and a generated migration).
    check('connections_provider_valid', sql`${t.provider} IN (${sql.raw(providers.map((p) => `'${p}'`).join(', '))})`),
    check('connections_status_valid', sql`${t.status} IN ('active', 'paused', 'error')`),
  ],
);

export const remoteLinks = pgTable(
  'remote_links',
  {
    id: id(),
    connectionId: uuid('connection_id')
      .notNull()
      .references(() => connections.id, { onDelete: 'cascade' }),
    opportunityId: uuid('opportunity_id')
      .notNull()
      .references(() => opportunities.id, { onDelete: 'cascade' }),
    remoteId: varchar('remote_id', { length: 100 }).notNull(),
    // hs_lastmodifieddate / update_time of the newest remote state we have seen.
    remoteVersion: timestamptz('remote_version'),
    // The canonical-field values last agreed with this remote: the base of the three-way merge.
    baseSnapshot: jsonb('base_snapshot').$type<Record<string, unknown>>().notNull().default({}),
    remoteDeletedAt: timestamptz('remote_deleted_at'),
    lastPulledAt: timestamptz('last_pulled_at'),
    lastPushedAt: timestamptz('last_pushed_at'),
    lastError: jsonb('last_error'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    unique('remote_links_connection_remote_uq').on(t.connectionId, t.remoteId),
    unique('remote_links_connection_opportunity_uq').on(t.connectionId, t.opportunityId),
    index('remote_links_opportunity_idx').on(t.opportunityId),
  ],
);

/** A merged-away remote id and the id that survived it (HubSpot deal merges). */
export const remoteAliases = pgTable(
  'remote_aliases',
  {
    connectionId: uuid('connection_id')
      .notNull()
      .references(() => connections.id, { onDelete: 'cascade' }),
    oldRemoteId: varchar('old_remote_id', { length: 100 }).notNull(),
    newRemoteId: varchar('new_remote_id', { length: 100 }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.connectionId, t.oldRemoteId] })],
);

export const problemDirections = ['push', 'pull'] as const;

/**
 * A record that does not sync cleanly with one connection: per field (or the record as a whole,
 * field ''), what value could not be written or read and why, since when. Set by every push and
 * pull of the record, cleared when the next one no longer has it; what admins list per connection.
 */
export const syncProblems = pgTable(
  'sync_problems',
  {
    connectionId: uuid('connection_id')
      .notNull()
      .references(() => connections.id, { onDelete: 'cascade' }),
    opportunityId: uuid('opportunity_id')
      .notNull()
      .references(() => opportunities.id, { onDelete: 'cascade' }),
    direction: text('direction', { enum: problemDirections }).notNull(),
    // The canonical field, or '' when the record as a whole failed (a refused push).
    field: varchar('field', { length: 200 }).notNull(),
    value: text('value'),
    cause: text('cause').notNull(),
    // When this problem (this field with this value and cause) was first seen.
    since: timestamptz('since').notNull().defaultNow(),
    lastSeenAt: timestamptz('last_seen_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.connectionId, t.opportunityId, t.direction, t.field] }),
    index('sync_problems_opportunity_idx').on(t.opportunityId),
  ],
);

/** Pending outbound work: one dirty row per (connection, opportunity), written with the change. */
export const outbox = pgTable(
  'outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    connectionId: uuid('connection_id')
      .notNull()
      .references(() => connections.id, { onDelete: 'cascade' }),
    opportunityId: uuid('opportunity_id')
      .notNull()
      .references(() => opportunities.id, { onDelete: 'cascade' }),
    dirtySince: timestamptz('dirty_since').notNull().defaultNow(),
    // Bumped by every canonical change: a flush deletes the row only if no change came in meanwhile.
    generation: integer('generation').notNull().default(0),
    // A flush's lease on the row; an expired lease (a crashed worker) makes the row claimable again.
    claimedUntil: timestamptz('claimed_until'),
    attempts: integer('attempts').notNull().default(0),
    lastError: jsonb('last_error'),
    // Write-ahead of a create: what it sends and when, saved before the CRM sees it. If the flush
    // fails after the CRM took the create, the deal's relink merges against it (a person's edit of
    // the new deal meanwhile is theirs, not ours to overwrite). Cleared once the link is saved.
    sentCreate: jsonb('sent_create').$type<{ at: string; fields: Record<string, unknown> }>(),
  },
  (t) => [
    unique('outbox_connection_opportunity_uq').on(t.connectionId, t.opportunityId),
    index('outbox_dirty_since_idx').on(t.dirtySince),
  ],
);

/**
 * Received webhooks not yet applied: one row per (request, connection), written before the CRM
 * gets its 200, deleted once applied (DESIGN.md §1). Workers claim a connection's rows together,
 * so one deal's many events cost one read; Redis only wakes them, so losing it loses nothing.
 */
export const inbox = pgTable(
  'inbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    connectionId: uuid('connection_id')
      .notNull()
      .references(() => connections.id, { onDelete: 'cascade' }),
    receivedAt: timestamptz('received_at').notNull().defaultNow(),
    // json, not jsonb: kept as received (cheaper to write on the acknowledgement's path), read once.
    events: json('events').$type<unknown[]>().notNull(),
    eventCount: integer('event_count').notNull(),
    // A worker's lease on the row, or (after a failure) when it may be tried again.
    claimedUntil: timestamptz('claimed_until'),
    attempts: integer('attempts').notNull().default(0),
    lastError: jsonb('last_error'),
    // Set once the retries ran out: kept for admins, no longer claimed; reconciliation covers its deals.
    failedAt: timestamptz('failed_at'),
  },
  (t) => [index('inbox_connection_idx').on(t.connectionId, t.id)],
);

/** The per-opportunity timeline that admins read. */
export const syncEvents = pgTable(
  'sync_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    accountId: accountId(),
    opportunityId: uuid('opportunity_id').references(() => opportunities.id, { onDelete: 'cascade' }),
    connectionId: uuid('connection_id').references(() => connections.id, { onDelete: 'set null' }),
    kind: varchar('kind', { length: 50 }).notNull(),
    field: varchar('field', { length: 100 }),
    before: jsonb('before'),
    after: jsonb('after'),
    rule: varchar('rule', { length: 50 }),
    detail: jsonb('detail'),
    createdAt: createdAt(),
  },
  (t) => [
    index('sync_events_opportunity_idx').on(t.opportunityId, t.id),
    index('sync_events_created_idx').on(t.createdAt),
  ],
);

// ---- Outbound events for workflows (DESIGN.md §5): subscriptions and their delivery outbox. ----

export const eventTypes = [
  'opportunity.created',
  'opportunity.updated',
  'opportunity.stage_changed',
  'opportunity.won',
  'opportunity.lost',
  'opportunity.deleted',
  'external_ref.linked',
] as const;
export type EventType = (typeof eventTypes)[number];

export const subscriptions = pgTable(
  'subscriptions',
  {
    id: id(),
    accountId: accountId(),
    url: text('url').notNull(),
    eventTypes: text('event_types').array().$type<EventType[]>().notNull(),
    // The whsec_… signing secret, sealed like connection credentials; the key id allows rotation.
    secret: text('secret').notNull(),
    secretKeyId: varchar('secret_key_id', { length: 64 }).notNull(),
    active: boolean('active').notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    // Every canonical change looks up its account's subscriptions here: it must stay one index probe.
    index('subscriptions_account_created_idx').on(t.accountId, t.createdAt, t.id),
    check(
      'subscriptions_event_types_valid',
      sql`cardinality(${t.eventTypes}) > 0 AND ${t.eventTypes} <@ ARRAY['opportunity.created', 'opportunity.updated', 'opportunity.stage_changed', 'opportunity.won', 'opportunity.lost', 'opportunity.deleted', 'external_ref.linked']::text[]`,
    ),
  ],
);

export const deliveryStatuses = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];

/**
 * The delivery outbox: one row per (event, subscription), written in the transaction of the change.
 * The bigserial id is the delivery order: a subscription's deliveries go out one at a time, by id.
 */
export const eventDeliveries = pgTable(
  'event_deliveries',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    subscriptionId: uuid('subscription_id')
      .notNull()
      .references(() => subscriptions.id, { onDelete: 'cascade' }),
    accountId: accountId(),
    // No foreign key: a delivery records what was sent, whatever becomes of the opportunity.
    opportunityId: uuid('opportunity_id'),
    // The webhook-id header: the same on every attempt and replay, so receivers can drop repeats.
    eventId: varchar('event_id', { length: 64 }).notNull(),
    type: text('type', { enum: eventTypes }).notNull(),
    // The body as sent: {type, timestamp, data}.
    payload: jsonb('payload').$type<{ type: EventType; timestamp: string; data: Record<string, unknown> }>().notNull(),
    status: text('status', { enum: deliveryStatuses }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    // Set while pending only.
    nextAttemptAt: timestamptz('next_attempt_at').defaultNow(),
    // A worker's lease on the delivery it is sending; an expired lease (a crashed worker) is taken over.
    claimedUntil: timestamptz('claimed_until'),
    lastAttemptAt: timestamptz('last_attempt_at'),
    lastStatusCode: smallint('last_status_code'),
    lastError: text('last_error'),
    deliveredAt: timestamptz('delivered_at'),
    replayedAt: timestamptz('replayed_at'),
    createdAt: createdAt(),
  },
  (t) => [
    unique('event_deliveries_event_id_uq').on(t.eventId),
    index('event_deliveries_subscription_idx').on(t.subscriptionId, t.id),
    // The head of each subscription's queue, whatever the length of its history.
    index('event_deliveries_pending_idx').on(t.subscriptionId, t.id).where(sql`${t.status} = 'pending'`),
    check('event_deliveries_status_valid', sql`${t.status} IN ('pending', 'delivered', 'failed')`),
    check('event_deliveries_next_attempt_when_pending', sql`(${t.status} = 'pending') = (${t.nextAttemptAt} IS NOT NULL)`),
  ],
);

/**
 * Admin console sessions, server-side so logout ends one at once and no cookie outlives its row.
 * The id is the HMAC (keyed by ADMIN_TOKEN) of the cookie's value: the cookie cannot be read back
 * from the table, and rotating the token ends every session.
 */
export const adminSessions = pgTable(
  'admin_sessions',
  {
    idHash: text('id_hash').primaryKey(),
    createdAt: createdAt(),
    expiresAt: timestamptz('expires_at').notNull(),
    endedAt: timestamptz('ended_at'),
  },
  (t) => [index('admin_sessions_expires_idx').on(t.expiresAt)],
);

/**
 * Failed admin logins and bearer tokens per client address in its current one-minute window
 * (from its first failure). In Postgres so every serve process counts the same failures.
 */
export const adminLoginFailures = pgTable(
  'admin_login_failures',
  {
    client: text('client').primaryKey(),
    windowStartedAt: timestamptz('window_started_at').notNull().defaultNow(),
    failures: integer('failures').notNull().default(1),
  },
  (t) => [index('admin_login_failures_window_idx').on(t.windowStartedAt)],
);
