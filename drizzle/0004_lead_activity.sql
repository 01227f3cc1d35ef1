ALTER TABLE "leads" ADD COLUMN "last_activity_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
CREATE INDEX "leads_group_activity_idx" ON "leads" USING btree ("group_id","last_activity_at");--> statement-breakpoint
CREATE INDEX "leads_group_converted_idx" ON "leads" USING btree ("group_id","converted_at");