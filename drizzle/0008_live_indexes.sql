CREATE TABLE "group_revisions" (
	"group_id" integer PRIMARY KEY NOT NULL,
	"revision" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "activities_created_idx" ON "activities" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "clients_live_idx" ON "clients" USING btree ("group_id","status","created_at","owner_id") WHERE "clients"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "leads_live_idx" ON "leads" USING btree ("group_id","status","created_at","owner_id","last_activity_at","value") WHERE "leads"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "leads_live_created_idx" ON "leads" USING btree ("created_at","id","group_id","status","owner_id","created_by_id") WHERE "leads"."deleted_at" is null;--> statement-breakpoint
DROP INDEX "leads_group_status_idx";--> statement-breakpoint
DROP INDEX "leads_created_idx";