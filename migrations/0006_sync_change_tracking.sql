-- Mobile sync change tracking (docs/sync.md, workers/sync/horizon.ts).
-- Every synced table gets two stamps in milliseconds, written by triggers, never by application code:
--   sync_created_ms: when the row was inserted; sync_changed_ms: when it last changed (strictly increasing per row).
-- A stamp is taken AFTER the writing transaction holds an xid, which is what lets a pull compute a horizon
-- that no later commit can fall behind. Deletions (and projects or nations moving to another scope) leave a
-- row in sync_tombstones stamped on the same clock.

ALTER TABLE "nations" ADD COLUMN "sync_created_ms" bigint NOT NULL DEFAULT 0, ADD COLUMN "sync_changed_ms" bigint NOT NULL DEFAULT 0;
--> statement-breakpoint
ALTER TABLE "sectors" ADD COLUMN "sync_created_ms" bigint NOT NULL DEFAULT 0, ADD COLUMN "sync_changed_ms" bigint NOT NULL DEFAULT 0;
--> statement-breakpoint
ALTER TABLE "projects" ADD COLUMN "sync_created_ms" bigint NOT NULL DEFAULT 0, ADD COLUMN "sync_changed_ms" bigint NOT NULL DEFAULT 0;
--> statement-breakpoint
ALTER TABLE "notification_settings" ADD COLUMN "sync_created_ms" bigint NOT NULL DEFAULT 0, ADD COLUMN "sync_changed_ms" bigint NOT NULL DEFAULT 0;
--> statement-breakpoint
-- Rows that existed before sync did: stamped from their own timestamps (no client can hold them yet).
UPDATE "nations" SET "sync_created_ms" = floor(extract(epoch FROM "created_at") * 1000), "sync_changed_ms" = floor(extract(epoch FROM "updated_at") * 1000);
--> statement-breakpoint
UPDATE "sectors" SET "sync_created_ms" = floor(extract(epoch FROM "created_at") * 1000), "sync_changed_ms" = floor(extract(epoch FROM "updated_at") * 1000);
--> statement-breakpoint
UPDATE "projects" SET "sync_created_ms" = floor(extract(epoch FROM "created_at") * 1000), "sync_changed_ms" = floor(extract(epoch FROM "updated_at") * 1000);
--> statement-breakpoint
UPDATE "notification_settings" SET "sync_created_ms" = floor(extract(epoch FROM "created_at") * 1000), "sync_changed_ms" = floor(extract(epoch FROM "updated_at") * 1000);
--> statement-breakpoint
CREATE INDEX "nations_sync_changed_idx" ON "nations" USING btree ("sync_changed_ms");
--> statement-breakpoint
CREATE INDEX "sectors_sync_changed_idx" ON "sectors" USING btree ("sync_changed_ms");
--> statement-breakpoint
CREATE INDEX "projects_sync_changed_idx" ON "projects" USING btree ("sync_changed_ms");
--> statement-breakpoint
ALTER TABLE "sync_tombstones" ADD CONSTRAINT "sync_tombstones_reason_check" CHECK ("reason" in ('deleted', 'scope_changed'));
--> statement-breakpoint
CREATE FUNCTION covenant_sync_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	stamp bigint;
BEGIN
	-- The xid first, then the clock: a pull that did not yet see this transaction holding an xid read its
	-- horizon before this stamp was taken.
	PERFORM pg_current_xact_id();
	stamp := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;
	IF TG_OP = 'INSERT' THEN
		NEW.sync_created_ms := stamp;
		NEW.sync_changed_ms := stamp;
	ELSE
		NEW.sync_created_ms := OLD.sync_created_ms;
		-- Strictly later than the version it replaces, even within one millisecond or if the clock steps back.
		NEW.sync_changed_ms := greatest(stamp, OLD.sync_changed_ms + 1);
	END IF;
	RETURN NEW;
END
$$;
--> statement-breakpoint
-- Arguments: key column, owner column, nation column, sector column, serving-region column ('' = none).
-- On DELETE: a 'deleted' tombstone. On UPDATE: a 'scope_changed' tombstone when a scope column changed, with
-- the OLD scope, so the principals who could see the row before learn to drop it.
CREATE FUNCTION covenant_sync_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	old_row jsonb := to_jsonb(OLD);
	new_row jsonb;
	scope_column text;
	moved boolean := false;
BEGIN
	IF TG_OP = 'UPDATE' THEN
		new_row := to_jsonb(NEW);
		FOREACH scope_column IN ARRAY ARRAY[TG_ARGV[2], TG_ARGV[3], TG_ARGV[4]] LOOP
			IF scope_column <> '' AND (old_row -> scope_column) IS DISTINCT FROM (new_row -> scope_column) THEN
				moved := true;
			END IF;
		END LOOP;
		IF NOT moved THEN
			RETURN NULL;
		END IF;
	END IF;
	INSERT INTO sync_tombstones (table_name, row_id, reason, owner_id, nation, sector, serving_region, changed_ms)
	VALUES (
		TG_TABLE_NAME,
		old_row ->> TG_ARGV[0],
		CASE TG_OP WHEN 'DELETE' THEN 'deleted' ELSE 'scope_changed' END,
		old_row ->> nullif(TG_ARGV[1], ''),
		old_row ->> nullif(TG_ARGV[2], ''),
		old_row ->> nullif(TG_ARGV[3], ''),
		old_row ->> nullif(TG_ARGV[4], ''),
		floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint
	);
	RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER sync_stamp BEFORE INSERT OR UPDATE ON "nations" FOR EACH ROW EXECUTE FUNCTION covenant_sync_stamp();
--> statement-breakpoint
CREATE TRIGGER sync_stamp BEFORE INSERT OR UPDATE ON "sectors" FOR EACH ROW EXECUTE FUNCTION covenant_sync_stamp();
--> statement-breakpoint
CREATE TRIGGER sync_stamp BEFORE INSERT OR UPDATE ON "projects" FOR EACH ROW EXECUTE FUNCTION covenant_sync_stamp();
--> statement-breakpoint
CREATE TRIGGER sync_stamp BEFORE INSERT OR UPDATE ON "bookmarks" FOR EACH ROW EXECUTE FUNCTION covenant_sync_stamp();
--> statement-breakpoint
CREATE TRIGGER sync_stamp BEFORE INSERT OR UPDATE ON "field_reports" FOR EACH ROW EXECUTE FUNCTION covenant_sync_stamp();
--> statement-breakpoint
CREATE TRIGGER sync_stamp BEFORE INSERT OR UPDATE ON "notification_settings" FOR EACH ROW EXECUTE FUNCTION covenant_sync_stamp();
--> statement-breakpoint
CREATE TRIGGER sync_tombstone AFTER DELETE ON "nations" FOR EACH ROW EXECUTE FUNCTION covenant_sync_tombstone('iso2', '', 'iso2', '', 'serving_region');
--> statement-breakpoint
CREATE TRIGGER sync_scope_change AFTER UPDATE OF "serving_region" ON "nations" FOR EACH ROW EXECUTE FUNCTION covenant_sync_tombstone('iso2', '', 'iso2', '', 'serving_region');
--> statement-breakpoint
CREATE TRIGGER sync_tombstone AFTER DELETE ON "sectors" FOR EACH ROW EXECUTE FUNCTION covenant_sync_tombstone('slug', '', '', 'slug', '');
--> statement-breakpoint
CREATE TRIGGER sync_tombstone AFTER DELETE ON "projects" FOR EACH ROW EXECUTE FUNCTION covenant_sync_tombstone('id', '', 'nation_iso2', 'sector', 'serving_region');
--> statement-breakpoint
CREATE TRIGGER sync_scope_change AFTER UPDATE OF "nation_iso2", "sector", "serving_region" ON "projects" FOR EACH ROW EXECUTE FUNCTION covenant_sync_tombstone('id', '', 'nation_iso2', 'sector', 'serving_region');
--> statement-breakpoint
CREATE TRIGGER sync_tombstone AFTER DELETE ON "bookmarks" FOR EACH ROW EXECUTE FUNCTION covenant_sync_tombstone('id', 'user_id', '', '', '');
--> statement-breakpoint
CREATE TRIGGER sync_tombstone AFTER DELETE ON "field_reports" FOR EACH ROW EXECUTE FUNCTION covenant_sync_tombstone('id', 'user_id', '', '', '');
--> statement-breakpoint
CREATE TRIGGER sync_tombstone AFTER DELETE ON "notification_settings" FOR EACH ROW EXECUTE FUNCTION covenant_sync_tombstone('user_id', 'user_id', '', '', '');
