-- tandem: no-transaction
-- Indexes for the list sorts no index served, the owner filter, the board and the clients' trash (bench/RESULTS.md,
-- F28–F29): an admin's page sorted by status, value or owner sorted every live lead (98–242 ms), by company,
-- status, owner or last update every client (94–145 ms); each board column sorted every lead of its status; the
-- trash read every client. Each key comes with the id (the tie-break) and the scope's columns, so a member's page
-- filters its groups inside the index. Built concurrently: writes to leads and clients go on meanwhile. The
-- plain value index goes (the new one serves the value filters too), and the date index is built again under a
-- new name with the last activity in it (the stale list reads it from there), then the old one goes.
DROP INDEX CONCURRENTLY IF EXISTS "clients_live_updated_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "clients_live_updated_idx" ON "clients" USING btree ("updated_at","id","group_id","owner_id","created_by_id") WHERE "clients"."deleted_at" is null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "clients_live_status_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "clients_live_status_idx" ON "clients" USING btree ("status","id","group_id","owner_id","created_by_id") WHERE "clients"."deleted_at" is null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "clients_live_company_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "clients_live_company_idx" ON "clients" USING btree (lower("company"),"id","group_id","owner_id","created_by_id") WHERE "clients"."deleted_at" is null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "clients_live_owner_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "clients_live_owner_idx" ON "clients" USING btree ("owner_id","group_id","created_at","id","status","created_by_id") WHERE "clients"."deleted_at" is null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "leads_live_status_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "leads_live_status_idx" ON "leads" USING btree ("status","id","group_id","owner_id","created_by_id") WHERE "leads"."deleted_at" is null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "leads_live_value_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "leads_live_value_idx" ON "leads" USING btree ("value","id","group_id","status","owner_id","created_by_id") WHERE "leads"."deleted_at" is null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "leads_live_owner_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "leads_live_owner_idx" ON "leads" USING btree ("owner_id","group_id","created_at","id","status","created_by_id") WHERE "leads"."deleted_at" is null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "clients_deleted_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "clients_deleted_idx" ON "clients" USING btree ("deleted_at") WHERE "clients"."deleted_at" is not null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "leads_live_status_activity_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "leads_live_status_activity_idx" ON "leads" USING btree ("status","last_activity_at","id","group_id","owner_id","created_by_id") WHERE "leads"."deleted_at" is null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "leads_live_by_created_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "leads_live_by_created_idx" ON "leads" USING btree ("created_at","id","group_id","status","owner_id","created_by_id","last_activity_at") WHERE "leads"."deleted_at" is null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "leads_live_created_idx";--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "leads_value_idx";
