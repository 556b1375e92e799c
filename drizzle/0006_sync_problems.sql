CREATE TABLE "sync_problems" (
	"connection_id" uuid NOT NULL,
	"opportunity_id" uuid NOT NULL,
	"direction" text NOT NULL,
	"field" varchar(200) NOT NULL,
	"value" text,
	"cause" text NOT NULL,
	"since" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sync_problems_connection_id_opportunity_id_direction_field_pk" PRIMARY KEY("connection_id","opportunity_id","direction","field")
);
--> statement-breakpoint
ALTER TABLE "sync_problems" ADD CONSTRAINT "sync_problems_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_problems" ADD CONSTRAINT "sync_problems_opportunity_id_opportunities_id_fk" FOREIGN KEY ("opportunity_id") REFERENCES "public"."opportunities"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "sync_problems_opportunity_idx" ON "sync_problems" USING btree ("opportunity_id");