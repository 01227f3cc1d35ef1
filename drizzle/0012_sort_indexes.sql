-- tandem: no-transaction
-- Indexes for the list sorts no index served, and for the owner filter (bench/RESULTS.md, F28): an admin's page
-- sorted by status, value or owner sorted every live lead (98–242 ms), by company, status, owner or last update
-- every client (94–145 ms). Each key comes with the id (the tie-break) and the scope's columns, so a member's page
-- filters its groups inside the index. Built concurrently: writes to leads and clients go on meanwhile. The
-- plain value index goes: the new one serves the value filters too.
DROP INDEX CONCURRENTLY IF EXISTS "clients_live_updated_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "clients_live_updated_idx" ON "clients" USING btree ("updated_at","id","group_id","owner_id","created_by_id") WHERE "clients"."deleted_at" is null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "clients_live_status_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "clients_live_status_idx" ON "clients" USING btree ("status","id","group_id","owner_id","created_by_id") WHERE "clients"."deleted_at" is null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "clients_live_company_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "clients_live_company_idx" ON "clients" USING btree (lower("company"),"id","group_id","owner_id","created_by_id") WHERE "clients"."deleted_at" is null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "clients_live_owner_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "clients_live_owner_idx" ON "clients" USING btree ("owner_id","created_at","id","group_id","status","created_by_id") WHERE "clients"."deleted_at" is null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "leads_live_status_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "leads_live_status_idx" ON "leads" USING btree ("status","id","group_id","owner_id","created_by_id") WHERE "leads"."deleted_at" is null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "leads_live_value_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "leads_live_value_idx" ON "leads" USING btree ("value","id","group_id","status","owner_id","created_by_id") WHERE "leads"."deleted_at" is null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "leads_live_owner_idx";--> statement-breakpoint
CREATE INDEX CONCURRENTLY IF NOT EXISTS "leads_live_owner_idx" ON "leads" USING btree ("owner_id","created_at","id","group_id","status","created_by_id") WHERE "leads"."deleted_at" is null;--> statement-breakpoint
DROP INDEX CONCURRENTLY IF EXISTS "leads_value_idx";
