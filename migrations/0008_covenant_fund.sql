CREATE TABLE "contribution_schedules" (
	"period" text NOT NULL,
	"nation_iso2" char(2) NOT NULL,
	"amount_cents" bigint NOT NULL,
	"rate_ppm" integer NOT NULL,
	"basis" text NOT NULL,
	"gdp_cents" bigint,
	"gdp_year" integer,
	"due_date" date NOT NULL,
	"transfer_id" text NOT NULL,
	"ledger_sequence" bigint,
	"scheduled_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"scheduled_by" text NOT NULL,
	CONSTRAINT "contribution_schedules_period_nation_iso2_pk" PRIMARY KEY("period","nation_iso2"),
	CONSTRAINT "contribution_schedules_amount_check" CHECK (amount_cents > 0),
	CONSTRAINT "contribution_schedules_period_check" CHECK (period ~ '^[0-9]{4}$'),
	CONSTRAINT "contribution_schedules_basis_check" CHECK (basis in ('gdp', 'fallback'))
);
--> statement-breakpoint
CREATE TABLE "distribution_shares" (
	"distribution_id" text NOT NULL,
	"nation_iso2" char(2) NOT NULL,
	"weight_cents" bigint NOT NULL,
	"share_cents" bigint NOT NULL,
	"extra_cent" boolean NOT NULL,
	"transfer_id" text,
	"state" text DEFAULT 'pending' NOT NULL,
	"ledger_sequence" bigint,
	"posted_at" timestamp (3) with time zone,
	CONSTRAINT "distribution_shares_distribution_id_nation_iso2_pk" PRIMARY KEY("distribution_id","nation_iso2"),
	CONSTRAINT "distribution_shares_amount_check" CHECK (weight_cents > 0 and share_cents >= 0)
);
--> statement-breakpoint
CREATE TABLE "distributions" (
	"id" text PRIMARY KEY NOT NULL,
	"project_id" uuid NOT NULL,
	"period" text NOT NULL,
	"amount_cents" bigint NOT NULL,
	"total_weight_cents" bigint NOT NULL,
	"recipients" integer NOT NULL,
	"status" text NOT NULL,
	"request_fingerprint" char(64) NOT NULL,
	"created_by" text NOT NULL,
	"plan" jsonb NOT NULL,
	"weights_complete_through" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp (3) with time zone,
	CONSTRAINT "distributions_amount_check" CHECK (amount_cents > 0 and total_weight_cents > 0),
	CONSTRAINT "distributions_status_check" CHECK (status in ('running', 'finalizing', 'completed', 'stalled')),
	CONSTRAINT "distributions_id_check" CHECK (id ~ '^dist_[0-9a-f]{32}$')
);
--> statement-breakpoint
ALTER TABLE "contribution_schedules" ADD CONSTRAINT "contribution_schedules_nation_iso2_nations_iso2_fk" FOREIGN KEY ("nation_iso2") REFERENCES "public"."nations"("iso2") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "distribution_shares" ADD CONSTRAINT "distribution_shares_distribution_id_distributions_id_fk" FOREIGN KEY ("distribution_id") REFERENCES "public"."distributions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "distribution_shares" ADD CONSTRAINT "distribution_shares_nation_iso2_nations_iso2_fk" FOREIGN KEY ("nation_iso2") REFERENCES "public"."nations"("iso2") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "distributions" ADD CONSTRAINT "distributions_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "contribution_schedules_nation_idx" ON "contribution_schedules" USING btree ("nation_iso2","period");--> statement-breakpoint
CREATE INDEX "distribution_shares_nation_idx" ON "distribution_shares" USING btree ("nation_iso2");--> statement-breakpoint
CREATE INDEX "distributions_project_idx" ON "distributions" USING btree ("project_id","created_at");--> statement-breakpoint
CREATE INDEX "distributions_period_idx" ON "distributions" USING btree ("period","created_at");