ALTER TABLE "files" ALTER COLUMN "status" SET DEFAULT 'pending';--> statement-breakpoint
ALTER TABLE "files" ADD COLUMN "reject_reason" varchar(200);--> statement-breakpoint
ALTER TABLE "files" ADD COLUMN "width" integer;--> statement-breakpoint
ALTER TABLE "files" ADD COLUMN "height" integer;--> statement-breakpoint
ALTER TABLE "files" ADD COLUMN "thumb_storage_name" varchar(80);--> statement-breakpoint
ALTER TABLE "files" ADD COLUMN "processed_at" timestamp with time zone;