CREATE TABLE "analytics_anomalies" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"rule" text NOT NULL,
	"day" date NOT NULL,
	"serving_region" text NOT NULL,
	"sector" text NOT NULL,
	"value_cents" bigint NOT NULL,
	"mean_cents" double precision NOT NULL,
	"stddev_cents" double precision NOT NULL,
	"threshold_stddevs" double precision NOT NULL,
	"event_id" text NOT NULL,
	"detected_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "analytics_anomalies_once" UNIQUE("rule","day","serving_region","sector")
);
--> statement-breakpoint
CREATE TABLE "analytics_daily" (
	"day" date NOT NULL,
	"serving_region" text NOT NULL,
	"sector" text NOT NULL,
	"projects_created" integer DEFAULT 0 NOT NULL,
	"projects_updated" integer DEFAULT 0 NOT NULL,
	"distributions" integer DEFAULT 0 NOT NULL,
	"distributions_cents" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "analytics_daily_day_serving_region_sector_pk" PRIMARY KEY("day","serving_region","sector")
);
--> statement-breakpoint
CREATE TABLE "analytics_daily_transfers" (
	"day" date NOT NULL,
	"serving_region" text NOT NULL,
	"sector" text NOT NULL,
	"kind" text NOT NULL,
	"transfers" integer DEFAULT 0 NOT NULL,
	"amount_cents" bigint DEFAULT 0 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "analytics_daily_transfers_day_serving_region_sector_kind_pk" PRIMARY KEY("day","serving_region","sector","kind")
);
--> statement-breakpoint
CREATE TABLE "audit_chain_head" (
	"id" smallint PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL,
	"hash" char(64) NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "audit_chain_head_single_row" CHECK ("audit_chain_head"."id" = 1)
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"event_id" text NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"recorded_at" timestamp with time zone NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"target" text,
	"request_id" text,
	"source" text NOT NULL,
	"nation" char(2),
	"sector" text,
	"serving_region" text,
	"before" jsonb,
	"after" jsonb,
	"data" jsonb NOT NULL,
	"prev_hash" char(64) NOT NULL,
	"hash" char(64) NOT NULL,
	CONSTRAINT "audit_log_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE TABLE "dead_letters" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"consumer" text NOT NULL,
	"queue" text NOT NULL,
	"message_id" text NOT NULL,
	"event_id" text,
	"event_type" text,
	"body" jsonb NOT NULL,
	"error" text,
	"attempts" integer NOT NULL,
	"enqueued_at" timestamp with time zone NOT NULL,
	"dead_lettered_at" timestamp with time zone DEFAULT now() NOT NULL,
	"redriven_at" timestamp with time zone,
	"redrive_count" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "dead_letters_message_unique" UNIQUE("consumer","message_id")
);
--> statement-breakpoint
CREATE TABLE "event_failures" (
	"consumer" text NOT NULL,
	"message_id" text NOT NULL,
	"event_id" text,
	"attempts" integer NOT NULL,
	"error" text NOT NULL,
	"first_failed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_failed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "event_failures_consumer_message_id_pk" PRIMARY KEY("consumer","message_id")
);
--> statement-breakpoint
CREATE TABLE "event_outbox" (
	"event_id" text NOT NULL,
	"consumer" text NOT NULL,
	"event" jsonb NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "event_outbox_event_id_consumer_pk" PRIMARY KEY("event_id","consumer")
);
--> statement-breakpoint
CREATE TABLE "notification_deliveries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" text NOT NULL,
	"event_type" text NOT NULL,
	"user_id" text NOT NULL,
	"device_id" uuid NOT NULL,
	"platform" text NOT NULL,
	"title" text NOT NULL,
	"body" text NOT NULL,
	"payload" jsonb NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"provider_status" integer,
	"provider_message_id" text,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	CONSTRAINT "notification_deliveries_once" UNIQUE("event_id","device_id"),
	CONSTRAINT "notification_deliveries_status_check" CHECK ("notification_deliveries"."status" in ('pending', 'sending', 'sent', 'failed', 'invalid_token'))
);
--> statement-breakpoint
CREATE TABLE "notification_devices" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" text NOT NULL,
	"platform" text NOT NULL,
	"token" text NOT NULL,
	"p256dh" text,
	"auth" text,
	"label" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"disabled_at" timestamp with time zone,
	"disabled_reason" text,
	CONSTRAINT "notification_devices_token_unique" UNIQUE("platform","token"),
	CONSTRAINT "notification_devices_platform_check" CHECK ("notification_devices"."platform" in ('fcm', 'apns', 'webpush')),
	CONSTRAINT "notification_devices_webpush_keys_check" CHECK ("notification_devices"."platform" <> 'webpush' or ("notification_devices"."p256dh" is not null and "notification_devices"."auth" is not null))
);
--> statement-breakpoint
CREATE TABLE "notification_settings" (
	"user_id" text PRIMARY KEY NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"sectors" text[] DEFAULT '{}'::text[] NOT NULL,
	"regions" text[] DEFAULT '{}'::text[] NOT NULL,
	"nations" text[] DEFAULT '{}'::text[] NOT NULL,
	"categories" text[] DEFAULT '{projects,distributions,alerts,announcements}'::text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "processed_events" (
	"consumer" text NOT NULL,
	"event_id" text NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processed_events_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
ALTER TABLE "notification_deliveries" ADD CONSTRAINT "notification_deliveries_device_id_notification_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."notification_devices"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_log_actor_idx" ON "audit_log" USING btree ("actor","seq");--> statement-breakpoint
CREATE INDEX "audit_log_action_idx" ON "audit_log" USING btree ("action","seq");--> statement-breakpoint
CREATE INDEX "audit_log_target_idx" ON "audit_log" USING btree ("target","seq");--> statement-breakpoint
CREATE INDEX "audit_log_occurred_at_idx" ON "audit_log" USING btree ("occurred_at");--> statement-breakpoint
CREATE INDEX "dead_letters_listing_idx" ON "dead_letters" USING btree ("dead_lettered_at","id");--> statement-breakpoint
CREATE INDEX "dead_letters_consumer_idx" ON "dead_letters" USING btree ("consumer","dead_lettered_at");--> statement-breakpoint
CREATE INDEX "event_failures_event_idx" ON "event_failures" USING btree ("consumer","event_id");--> statement-breakpoint
CREATE INDEX "event_failures_last_failed_idx" ON "event_failures" USING btree ("last_failed_at");--> statement-breakpoint
CREATE INDEX "event_outbox_next_attempt_idx" ON "event_outbox" USING btree ("next_attempt_at");--> statement-breakpoint
CREATE INDEX "notification_deliveries_status_idx" ON "notification_deliveries" USING btree ("status","updated_at");--> statement-breakpoint
CREATE INDEX "notification_deliveries_user_idx" ON "notification_deliveries" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE INDEX "notification_devices_user_idx" ON "notification_devices" USING btree ("user_id","created_at");--> statement-breakpoint
CREATE INDEX "notification_settings_sectors_idx" ON "notification_settings" USING gin ("sectors");--> statement-breakpoint
CREATE INDEX "notification_settings_regions_idx" ON "notification_settings" USING gin ("regions");--> statement-breakpoint
CREATE INDEX "notification_settings_nations_idx" ON "notification_settings" USING gin ("nations");--> statement-breakpoint
CREATE INDEX "processed_events_processed_at_idx" ON "processed_events" USING btree ("processed_at");