ALTER TABLE "bookmarks" ADD COLUMN "sync_origin_ms" bigint;--> statement-breakpoint
ALTER TABLE "field_reports" ADD COLUMN "sync_origin_ms" bigint;--> statement-breakpoint
-- notification_settings is synced too (its schema file belongs to the notifications module): same column, added here.
ALTER TABLE "notification_settings" ADD COLUMN "sync_origin_ms" bigint;
