-- Indexes for the lists, the search and the dashboard (bench/RESULTS.md, F17–F19). One migration, so one
-- transaction (the migrator runs all pending migrations in one): every index is built first, under a SHARE
-- lock that lets reads go on, and the old indexes are dropped (ACCESS EXCLUSIVE, until the commit) only at
-- the end, for a moment.
-- - Search indexes keyed by group first (btree_gin lets a GIN index hold the integer column): a member's search
--   visits only the matching rows of their own groups instead of every group's (F17).
-- - The dashboard's "assigned to me": a user's leads newest activity first, so the ten shown are read from the
--   index instead of every lead they own being read and sorted (F18).
-- - leads_live_idx with the id as its last column: a page filtered by status (and owner) takes its ids from an
--   index-only scan instead of reading every match from the table to sort them (F19). Built under another name,
--   then swapped.
-- - Each group's live leads by date with the scope's columns, in place of (group_id, created_at): a member's
--   page by number merges their groups' slices instead of skipping through the whole date index (F24).
CREATE EXTENSION IF NOT EXISTS btree_gin;--> statement-breakpoint
CREATE INDEX "clients_group_search_idx" ON "clients" USING gin ("group_id","search" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "leads_group_search_idx" ON "leads" USING gin ("group_id","search" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "leads_owner_activity_idx" ON "leads" USING btree ("owner_id","last_activity_at");--> statement-breakpoint
CREATE INDEX "leads_group_live_created_idx" ON "leads" USING btree ("group_id","created_at","id","status","owner_id","created_by_id") WHERE "leads"."deleted_at" is null;--> statement-breakpoint
CREATE INDEX "leads_live_ids_idx" ON "leads" USING btree ("group_id","status","created_at","owner_id","last_activity_at","value","id") WHERE "leads"."deleted_at" is null;--> statement-breakpoint
DROP INDEX "clients_search_trgm_idx";--> statement-breakpoint
DROP INDEX "leads_search_trgm_idx";--> statement-breakpoint
DROP INDEX "leads_live_idx";--> statement-breakpoint
DROP INDEX "leads_group_created_idx";--> statement-breakpoint
ALTER INDEX "leads_live_ids_idx" RENAME TO "leads_live_idx";
