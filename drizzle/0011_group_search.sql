-- Search indexes keyed by group first (btree_gin lets a GIN index hold the integer column): a member's search
-- visits only the matching rows of their own groups instead of every group's (bench/RESULTS.md, F17). The new
-- indexes are built before the old ones go, so searches keep an index throughout and the ACCESS EXCLUSIVE lock
-- of DROP INDEX is taken only at the end, for a moment.
CREATE EXTENSION IF NOT EXISTS btree_gin;--> statement-breakpoint
CREATE INDEX "clients_group_search_idx" ON "clients" USING gin ("group_id","search" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "leads_group_search_idx" ON "leads" USING gin ("group_id","search" gin_trgm_ops);--> statement-breakpoint
DROP INDEX "clients_search_trgm_idx";--> statement-breakpoint
DROP INDEX "leads_search_trgm_idx";
