-- Owner choices label namesakes with their email (leads.service.ts, loadChoices), cached under the directory's
-- revision: an email change must move it too, as a name change does.
DROP TRIGGER "users_directory" ON "users";--> statement-breakpoint
CREATE TRIGGER "users_directory" AFTER UPDATE OF "name", "active", "email" ON "users" FOR EACH STATEMENT EXECUTE FUNCTION bump_directory_revision();
