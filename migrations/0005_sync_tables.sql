CREATE TABLE "bookmarks" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"project_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_created_ms" bigint DEFAULT 0 NOT NULL,
	"sync_changed_ms" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "bookmarks_id_check" CHECK ("bookmarks"."id" ~ '^[A-Za-z0-9_.-]{1,64}$')
);
--> statement-breakpoint
CREATE TABLE "field_reports" (
	"id" text PRIMARY KEY NOT NULL,
	"user_id" text NOT NULL,
	"project_id" uuid NOT NULL,
	"note" text NOT NULL,
	"photo_ref" text,
	"lat" double precision,
	"lng" double precision,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sync_created_ms" bigint DEFAULT 0 NOT NULL,
	"sync_changed_ms" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "field_reports_id_check" CHECK ("field_reports"."id" ~ '^[A-Za-z0-9_.-]{1,64}$'),
	CONSTRAINT "field_reports_note_check" CHECK (length("field_reports"."note") between 1 and 10000),
	CONSTRAINT "field_reports_photo_ref_check" CHECK ("field_reports"."photo_ref" is null or length("field_reports"."photo_ref") between 1 and 2048),
	CONSTRAINT "field_reports_location_check" CHECK (("field_reports"."lat" is null) = ("field_reports"."lng" is null) and ("field_reports"."lat" is null or ("field_reports"."lat" between -90 and 90 and "field_reports"."lng" between -180 and 180)))
);
--> statement-breakpoint
CREATE TABLE "sync_tombstones" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"table_name" text NOT NULL,
	"row_id" text NOT NULL,
	"reason" text NOT NULL,
	"owner_id" text,
	"nation" char(2),
	"sector" text,
	"serving_region" text,
	"changed_ms" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "bookmarks" ADD CONSTRAINT "bookmarks_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "field_reports" ADD CONSTRAINT "field_reports_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "bookmarks_user_changed_idx" ON "bookmarks" USING btree ("user_id","sync_changed_ms");--> statement-breakpoint
CREATE INDEX "bookmarks_project_idx" ON "bookmarks" USING btree ("project_id");--> statement-breakpoint
CREATE INDEX "field_reports_user_changed_idx" ON "field_reports" USING btree ("user_id","sync_changed_ms");--> statement-breakpoint
CREATE INDEX "field_reports_project_idx" ON "field_reports" USING btree ("project_id");--> statement-breakpoint
CREATE INDEX "sync_tombstones_table_changed_idx" ON "sync_tombstones" USING btree ("table_name","changed_ms");--> statement-breakpoint
CREATE INDEX "sync_tombstones_table_row_idx" ON "sync_tombstones" USING btree ("table_name","row_id");