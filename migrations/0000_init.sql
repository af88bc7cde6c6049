CREATE TABLE "nations" (
	"iso2" char(2) PRIMARY KEY NOT NULL,
	"iso3" char(3) NOT NULL,
	"m49" text NOT NULL,
	"name" text NOT NULL,
	"official_name" text NOT NULL,
	"region" text NOT NULL,
	"subregion" text NOT NULL,
	"intermediate_region" text,
	"serving_region" text NOT NULL,
	"capital" text,
	"capital_lat" double precision,
	"capital_lng" double precision,
	"lat" double precision,
	"lng" double precision,
	"population" bigint,
	"population_year" integer,
	"gdp_cents" bigint,
	"gdp_year" integer,
	"covenant_status" text DEFAULT 'candidate' NOT NULL,
	"contribution_rate_ppm" integer DEFAULT 0 NOT NULL,
	"annual_contribution_cents" bigint DEFAULT 0 NOT NULL,
	"search" "tsvector" GENERATED ALWAYS AS (to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(official_name, '') || ' ' || iso2 || ' ' || iso3 || ' ' || coalesce(capital, '') || ' ' || coalesce(subregion, ''))) STORED,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "nations_iso3_unique" UNIQUE("iso3"),
	CONSTRAINT "nations_status_check" CHECK (covenant_status in ('candidate', 'active', 'suspended', 'withdrawn')),
	CONSTRAINT "nations_gdp_year_check" CHECK ((gdp_cents is null) = (gdp_year is null)),
	CONSTRAINT "nations_contribution_check" CHECK (annual_contribution_cents >= 0 and contribution_rate_ppm >= 0)
);
--> statement-breakpoint
CREATE TABLE "projects" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"sector" text NOT NULL,
	"nation_iso2" char(2) NOT NULL,
	"serving_region" text NOT NULL,
	"region" text NOT NULL,
	"status" text DEFAULT 'proposed' NOT NULL,
	"budget_cents" bigint NOT NULL,
	"funded_cents" bigint DEFAULT 0 NOT NULL,
	"expected_yield_bps" integer NOT NULL,
	"lat" double precision NOT NULL,
	"lng" double precision NOT NULL,
	"summary" text NOT NULL,
	"search" "tsvector" GENERATED ALWAYS AS (to_tsvector('english', coalesce(name, '') || ' ' || coalesce(summary, '') || ' ' || sector)) STORED,
	"deleted_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "projects_status_check" CHECK (status in ('proposed', 'approved', 'active', 'completed', 'suspended')),
	CONSTRAINT "projects_money_check" CHECK (budget_cents > 0 and funded_cents >= 0 and funded_cents <= budget_cents)
);
--> statement-breakpoint
CREATE TABLE "sectors" (
	"slug" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"description" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "projects" ADD CONSTRAINT "projects_sector_sectors_slug_fk" FOREIGN KEY ("sector") REFERENCES "public"."sectors"("slug") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "projects" ADD CONSTRAINT "projects_nation_iso2_nations_iso2_fk" FOREIGN KEY ("nation_iso2") REFERENCES "public"."nations"("iso2") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "nations_region_idx" ON "nations" USING btree ("region","iso2");--> statement-breakpoint
CREATE INDEX "nations_serving_region_idx" ON "nations" USING btree ("serving_region","iso2");--> statement-breakpoint
CREATE INDEX "nations_status_idx" ON "nations" USING btree ("covenant_status","iso2");--> statement-breakpoint
CREATE INDEX "nations_search_idx" ON "nations" USING gin ("search");--> statement-breakpoint
CREATE INDEX "projects_sector_idx" ON "projects" USING btree ("sector","id");--> statement-breakpoint
CREATE INDEX "projects_nation_idx" ON "projects" USING btree ("nation_iso2","id");--> statement-breakpoint
CREATE INDEX "projects_status_idx" ON "projects" USING btree ("status","id");--> statement-breakpoint
CREATE INDEX "projects_region_idx" ON "projects" USING btree ("region","id");--> statement-breakpoint
CREATE INDEX "projects_serving_region_idx" ON "projects" USING btree ("serving_region","sector","id");--> statement-breakpoint
CREATE INDEX "projects_updated_at_idx" ON "projects" USING btree ("updated_at");--> statement-breakpoint
CREATE INDEX "projects_search_idx" ON "projects" USING gin ("search");