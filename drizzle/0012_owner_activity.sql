-- The dashboard's "assigned to me": a user's leads newest activity first, so the ten shown are read from the index
-- instead of every lead they own being read and sorted (bench/RESULTS.md, F18).
CREATE INDEX "leads_owner_activity_idx" ON "leads" USING btree ("owner_id","last_activity_at");