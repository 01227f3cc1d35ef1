-- Group revisions (src/db/schema/records.ts, groupRevisions): every statement that inserts, updates or deletes
-- leads or clients raises the revision of each group it touched (old and new group of a moved row) to the next
-- value of one global sequence. Statement-level triggers with transition tables: one upsert per statement,
-- whatever the number of rows, taking the groups' rows in id order (two statements moving records between
-- the same groups in opposite directions lock them in the same order: no deadlock). The sequence is not owned by a table, so TRUNCATE ... RESTART IDENTITY (tests)
-- never makes a number come back.
CREATE SEQUENCE "group_revision_seq";--> statement-breakpoint
CREATE FUNCTION "bump_group_revisions"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO group_revisions (group_id, revision)
      SELECT group_id, nextval('group_revision_seq') FROM (SELECT DISTINCT group_id FROM new_rows) g ORDER BY group_id
      ON CONFLICT (group_id) DO UPDATE SET revision = excluded.revision;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO group_revisions (group_id, revision)
      SELECT group_id, nextval('group_revision_seq') FROM (SELECT group_id FROM new_rows UNION SELECT group_id FROM old_rows) g ORDER BY group_id
      ON CONFLICT (group_id) DO UPDATE SET revision = excluded.revision;
  ELSE
    INSERT INTO group_revisions (group_id, revision)
      SELECT group_id, nextval('group_revision_seq') FROM (SELECT DISTINCT group_id FROM old_rows) g ORDER BY group_id
      ON CONFLICT (group_id) DO UPDATE SET revision = excluded.revision;
  END IF;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "leads_revision_insert" AFTER INSERT ON "leads" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_group_revisions();--> statement-breakpoint
CREATE TRIGGER "leads_revision_update" AFTER UPDATE ON "leads" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_group_revisions();--> statement-breakpoint
CREATE TRIGGER "leads_revision_delete" AFTER DELETE ON "leads" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_group_revisions();--> statement-breakpoint
CREATE TRIGGER "clients_revision_insert" AFTER INSERT ON "clients" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_group_revisions();--> statement-breakpoint
CREATE TRIGGER "clients_revision_update" AFTER UPDATE ON "clients" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_group_revisions();--> statement-breakpoint
CREATE TRIGGER "clients_revision_delete" AFTER DELETE ON "clients" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_group_revisions();
