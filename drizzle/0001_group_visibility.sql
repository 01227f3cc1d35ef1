CREATE TYPE "public"."group_visibility" AS ENUM('all', 'own');--> statement-breakpoint
ALTER TABLE "groups" ADD COLUMN "visibility" "group_visibility" DEFAULT 'all' NOT NULL;