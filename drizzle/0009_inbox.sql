CREATE TABLE "inbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"connection_id" uuid NOT NULL,
	"received_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"events" json NOT NULL,
	"event_count" integer NOT NULL,
	"claimed_until" timestamp (3) with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" jsonb,
	"failed_at" timestamp (3) with time zone
);
--> statement-breakpoint
ALTER TABLE "inbox" ADD CONSTRAINT "inbox_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "inbox_connection_idx" ON "inbox" USING btree ("connection_id","id");