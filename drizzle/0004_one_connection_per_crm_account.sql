DROP INDEX "connections_provider_remote_idx";--> statement-breakpoint
CREATE UNIQUE INDEX "connections_provider_remote_uq" ON "connections" USING btree ("provider","remote_account_id");