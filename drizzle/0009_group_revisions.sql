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
CREATE TRIGGER "clients_revision_delete" AFTER DELETE ON "clients" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_group_revisions();--> statement-breakpoint
-- TRUNCATE has no transition table: every group's revision moves (also of groups that had no row yet).
CREATE FUNCTION "bump_all_group_revisions"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO group_revisions (group_id, revision)
    SELECT id, nextval('group_revision_seq') FROM (SELECT id FROM groups ORDER BY id) g
    ON CONFLICT (group_id) DO UPDATE SET revision = excluded.revision;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "leads_revision_truncate" AFTER TRUNCATE ON "leads" FOR EACH STATEMENT EXECUTE FUNCTION bump_all_group_revisions();--> statement-breakpoint
CREATE TRIGGER "clients_revision_truncate" AFTER TRUNCATE ON "clients" FOR EACH STATEMENT EXECUTE FUNCTION bump_all_group_revisions();
--> statement-breakpoint
-- The directory revision (src/db/schema/records.ts, directoryRevision): one row, raised by every statement that
-- changes who is in which group (memberships), a group (name, visibility, creation, deletion) or a user's name
-- or active flag. Pages cache their owner and group choices under it; the signed-in user's query reads it, so
-- the cache costs no query of its own and a change made by any process is seen by the next request. An upsert,
-- so a truncated table starts over. Updated inside the writing transaction: readers see a new number only
-- with the data it stands for.
CREATE TABLE "directory_revision" ("id" boolean PRIMARY KEY DEFAULT true CHECK ("id"), "revision" bigint NOT NULL);--> statement-breakpoint
CREATE FUNCTION "bump_directory_revision"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO directory_revision (id, revision) VALUES (true, nextval('group_revision_seq'))
    ON CONFLICT (id) DO UPDATE SET revision = excluded.revision;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "memberships_directory" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "memberships" FOR EACH STATEMENT EXECUTE FUNCTION bump_directory_revision();--> statement-breakpoint
CREATE TRIGGER "groups_directory" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "groups" FOR EACH STATEMENT EXECUTE FUNCTION bump_directory_revision();--> statement-breakpoint
CREATE TRIGGER "users_directory" AFTER UPDATE OF "name", "active" ON "users" FOR EACH STATEMENT EXECUTE FUNCTION bump_directory_revision();--> statement-breakpoint
INSERT INTO directory_revision (id, revision) VALUES (true, nextval('group_revision_seq'));
