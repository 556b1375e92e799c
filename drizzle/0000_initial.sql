CREATE TABLE "accounts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" varchar(200) NOT NULL,
	"default_currency" varchar(3) DEFAULT 'USD' NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "accounts_default_currency_iso" CHECK ("accounts"."default_currency" ~ '^[A-Z]{3}$')
);
--> statement-breakpoint
CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"key_hash" text NOT NULL,
	"prefix" varchar(16) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp (3) with time zone,
	CONSTRAINT "api_keys_key_hash_unique" UNIQUE("key_hash")
);
--> statement-breakpoint
CREATE TABLE "attribute_definitions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"key" varchar(64) NOT NULL,
	"label" varchar(200) NOT NULL,
	"type" text NOT NULL,
	"options" jsonb,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "attribute_definitions_account_key_uq" UNIQUE("account_id","key"),
	CONSTRAINT "attribute_definitions_type_valid" CHECK ("attribute_definitions"."type" IN ('text', 'number', 'boolean', 'date', 'enum')),
	CONSTRAINT "attribute_definitions_enum_has_options" CHECK (("attribute_definitions"."type" = 'enum') = ("attribute_definitions"."options" IS NOT NULL))
);
--> statement-breakpoint
CREATE TABLE "connections" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"provider" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"credentials" text NOT NULL,
	"credentials_key_id" varchar(64) NOT NULL,
	"webhook_secret" text,
	"settings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"remote_account_id" varchar(100),
	"reconcile_cursor" jsonb,
	"last_error" jsonb,
	"last_success_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "connections_provider_valid" CHECK ("connections"."provider" IN ('hubspot', 'pipedrive')),
	CONSTRAINT "connections_status_valid" CHECK ("connections"."status" IN ('active', 'paused', 'error'))
);
--> statement-breakpoint
CREATE TABLE "contacts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"name" varchar(200) NOT NULL,
	"email" varchar(320),
	"phone" varchar(50),
	"opportunity_count" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "contacts_account_id_uq" UNIQUE("account_id","id"),
	CONSTRAINT "contacts_opportunity_count_nonnegative" CHECK ("contacts"."opportunity_count" >= 0)
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"account_id" uuid NOT NULL,
	"key" varchar(255) NOT NULL,
	"request_hash" text NOT NULL,
	"status_code" smallint NOT NULL,
	"response_body" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_account_id_key_pk" PRIMARY KEY("account_id","key")
);
--> statement-breakpoint
CREATE TABLE "opportunities" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"external_ref" varchar(255),
	"title" varchar(255) NOT NULL,
	"description" text,
	"amount" numeric,
	"currency" varchar(3) NOT NULL,
	"close_date" date,
	"state" text DEFAULT 'open' NOT NULL,
	"stage" varchar(100),
	"pipeline" varchar(100),
	"probability" smallint,
	"source" varchar(100),
	"lost_reason" varchar(500),
	"assignee_id" uuid,
	"closed_by_id" uuid,
	"closed_at" timestamp (3) with time zone,
	"attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"field_changed_at" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp (3) with time zone,
	CONSTRAINT "opportunities_account_id_uq" UNIQUE("account_id","id"),
	CONSTRAINT "opportunities_state_valid" CHECK ("opportunities"."state" IN ('open', 'won', 'lost', 'abandoned')),
	CONSTRAINT "opportunities_closed_at_matches_state" CHECK (("opportunities"."state" = 'open') = ("opportunities"."closed_at" IS NULL)),
	CONSTRAINT "opportunities_currency_iso" CHECK ("opportunities"."currency" ~ '^[A-Z]{3}$'),
	CONSTRAINT "opportunities_amount_nonnegative" CHECK ("opportunities"."amount" >= 0),
	CONSTRAINT "opportunities_probability_percent" CHECK ("opportunities"."probability" BETWEEN 0 AND 100),
	CONSTRAINT "opportunities_version_positive" CHECK ("opportunities"."version" > 0)
);
--> statement-breakpoint
CREATE TABLE "opportunity_contacts" (
	"account_id" uuid NOT NULL,
	"opportunity_id" uuid NOT NULL,
	"contact_id" uuid NOT NULL,
	"is_primary" boolean DEFAULT false NOT NULL,
	CONSTRAINT "opportunity_contacts_opportunity_id_contact_id_pk" PRIMARY KEY("opportunity_id","contact_id")
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"connection_id" uuid NOT NULL,
	"opportunity_id" uuid NOT NULL,
	"dirty_since" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" jsonb,
	CONSTRAINT "outbox_connection_opportunity_uq" UNIQUE("connection_id","opportunity_id")
);
--> statement-breakpoint
CREATE TABLE "remote_aliases" (
	"connection_id" uuid NOT NULL,
	"old_remote_id" varchar(100) NOT NULL,
	"new_remote_id" varchar(100) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "remote_aliases_connection_id_old_remote_id_pk" PRIMARY KEY("connection_id","old_remote_id")
);
--> statement-breakpoint
CREATE TABLE "remote_links" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"connection_id" uuid NOT NULL,
	"opportunity_id" uuid NOT NULL,
	"remote_id" varchar(100) NOT NULL,
	"remote_version" timestamp (3) with time zone,
	"base_snapshot" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"remote_deleted_at" timestamp (3) with time zone,
	"last_pulled_at" timestamp (3) with time zone,
	"last_pushed_at" timestamp (3) with time zone,
	"last_error" jsonb,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "remote_links_connection_remote_uq" UNIQUE("connection_id","remote_id"),
	CONSTRAINT "remote_links_connection_opportunity_uq" UNIQUE("connection_id","opportunity_id")
);
--> statement-breakpoint
CREATE TABLE "sync_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"account_id" uuid NOT NULL,
	"opportunity_id" uuid,
	"connection_id" uuid,
	"kind" varchar(50) NOT NULL,
	"field" varchar(100),
	"before" jsonb,
	"after" jsonb,
	"rule" varchar(50),
	"detail" jsonb,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"name" varchar(200) NOT NULL,
	"email" varchar(320) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attribute_definitions" ADD CONSTRAINT "attribute_definitions_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connections" ADD CONSTRAINT "connections_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "contacts" ADD CONSTRAINT "contacts_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "opportunities" ADD CONSTRAINT "opportunities_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "opportunities" ADD CONSTRAINT "opportunities_assignee_id_users_id_fk" FOREIGN KEY ("assignee_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "opportunities" ADD CONSTRAINT "opportunities_closed_by_id_users_id_fk" FOREIGN KEY ("closed_by_id") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "opportunity_contacts" ADD CONSTRAINT "opportunity_contacts_opportunity_fk" FOREIGN KEY ("account_id","opportunity_id") REFERENCES "public"."opportunities"("account_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "opportunity_contacts" ADD CONSTRAINT "opportunity_contacts_contact_fk" FOREIGN KEY ("account_id","contact_id") REFERENCES "public"."contacts"("account_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "outbox" ADD CONSTRAINT "outbox_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "outbox" ADD CONSTRAINT "outbox_opportunity_id_opportunities_id_fk" FOREIGN KEY ("opportunity_id") REFERENCES "public"."opportunities"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "remote_aliases" ADD CONSTRAINT "remote_aliases_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "remote_links" ADD CONSTRAINT "remote_links_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "remote_links" ADD CONSTRAINT "remote_links_opportunity_id_opportunities_id_fk" FOREIGN KEY ("opportunity_id") REFERENCES "public"."opportunities"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_events" ADD CONSTRAINT "sync_events_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_events" ADD CONSTRAINT "sync_events_opportunity_id_opportunities_id_fk" FOREIGN KEY ("opportunity_id") REFERENCES "public"."opportunities"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_events" ADD CONSTRAINT "sync_events_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_account_id_accounts_id_fk" FOREIGN KEY ("account_id") REFERENCES "public"."accounts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_keys_account_idx" ON "api_keys" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "connections_account_idx" ON "connections" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "connections_provider_remote_idx" ON "connections" USING btree ("provider","remote_account_id");--> statement-breakpoint
CREATE INDEX "contacts_account_created_idx" ON "contacts" USING btree ("account_id","created_at","id");--> statement-breakpoint
CREATE INDEX "contacts_account_email_idx" ON "contacts" USING btree ("account_id",lower("email"));--> statement-breakpoint
CREATE INDEX "idempotency_keys_created_idx" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "opportunities_account_external_ref_uq" ON "opportunities" USING btree ("account_id","external_ref") WHERE "opportunities"."external_ref" IS NOT NULL AND "opportunities"."deleted_at" IS NULL;--> statement-breakpoint
CREATE INDEX "opportunities_account_created_idx" ON "opportunities" USING btree ("account_id","created_at","id");--> statement-breakpoint
CREATE INDEX "opportunities_account_state_closed_idx" ON "opportunities" USING btree ("account_id","state","closed_at");--> statement-breakpoint
CREATE INDEX "opportunities_account_updated_idx" ON "opportunities" USING btree ("account_id","updated_at");--> statement-breakpoint
CREATE UNIQUE INDEX "opportunity_contacts_one_primary_uq" ON "opportunity_contacts" USING btree ("opportunity_id") WHERE "opportunity_contacts"."is_primary";--> statement-breakpoint
CREATE INDEX "opportunity_contacts_contact_idx" ON "opportunity_contacts" USING btree ("contact_id");--> statement-breakpoint
CREATE INDEX "outbox_dirty_since_idx" ON "outbox" USING btree ("dirty_since");--> statement-breakpoint
CREATE INDEX "remote_links_opportunity_idx" ON "remote_links" USING btree ("opportunity_id");--> statement-breakpoint
CREATE INDEX "sync_events_opportunity_idx" ON "sync_events" USING btree ("opportunity_id","id");--> statement-breakpoint
CREATE INDEX "sync_events_created_idx" ON "sync_events" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "users_account_email_uq" ON "users" USING btree ("account_id",lower("email"));--> statement-breakpoint
CREATE INDEX "users_account_created_idx" ON "users" USING btree ("account_id","created_at","id");