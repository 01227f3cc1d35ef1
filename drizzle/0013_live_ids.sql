-- leads_live_idx with the id as its last column: a page filtered by status (and owner) takes its ids from an
-- index-only scan instead of reading every match from the table to sort them (bench/RESULTS.md, F19). Built
-- under another name first, so the lists and the dashboard keep an index throughout; the swap at the end takes
-- the ACCESS EXCLUSIVE lock of DROP INDEX for a moment only.
CREATE INDEX "leads_live_ids_idx" ON "leads" USING btree ("group_id","status","created_at","owner_id","last_activity_at","value","id") WHERE "leads"."deleted_at" is null;--> statement-breakpoint
DROP INDEX "leads_live_idx";--> statement-breakpoint
ALTER INDEX "leads_live_ids_idx" RENAME TO "leads_live_idx";
