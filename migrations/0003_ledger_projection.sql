CREATE TABLE "ledger_entries" (
	"nation_iso2" char(2) NOT NULL,
	"sequence" bigint NOT NULL,
	"transfer_id" text NOT NULL,
	"kind" text NOT NULL,
	"phase" text NOT NULL,
	"debit_account" text NOT NULL,
	"credit_account" text NOT NULL,
	"amount_cents" bigint NOT NULL,
	"pending_id" text,
	"reverses_id" text,
	"project_id" uuid,
	"distribution_id" text,
	"period" text,
	"metadata" jsonb NOT NULL,
	"recorded_at" timestamp (3) with time zone NOT NULL,
	"expires_at" timestamp (3) with time zone,
	"prev_hash" char(64) NOT NULL,
	"hash" char(64) NOT NULL,
	"projected_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ledger_entries_nation_iso2_sequence_pk" PRIMARY KEY("nation_iso2","sequence"),
	CONSTRAINT "ledger_entries_transfer_uq" UNIQUE("nation_iso2","transfer_id"),
	CONSTRAINT "ledger_entries_amount_check" CHECK (amount_cents > 0),
	CONSTRAINT "ledger_entries_sequence_check" CHECK (sequence > 0),
	CONSTRAINT "ledger_entries_kind_check" CHECK (kind in ('contribution', 'distribution', 'disbursement', 'adjustment', 'reversal')),
	CONSTRAINT "ledger_entries_phase_check" CHECK (phase in ('single', 'pending', 'post', 'void', 'expire')),
	CONSTRAINT "ledger_entries_accounts_check" CHECK (debit_account <> credit_account)
);
--> statement-breakpoint
CREATE TABLE "ledger_projection_state" (
	"nation_iso2" char(2) PRIMARY KEY NOT NULL,
	"projected_sequence" bigint NOT NULL,
	"projected_hash" char(64) NOT NULL,
	"projected_at" timestamp (3) with time zone NOT NULL,
	"last_lag_ms" integer NOT NULL,
	"backlog_entries" integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_nation_iso2_nations_iso2_fk" FOREIGN KEY ("nation_iso2") REFERENCES "public"."nations"("iso2") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ledger_projection_state" ADD CONSTRAINT "ledger_projection_state_nation_iso2_nations_iso2_fk" FOREIGN KEY ("nation_iso2") REFERENCES "public"."nations"("iso2") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ledger_entries_kind_idx" ON "ledger_entries" USING btree ("nation_iso2","kind","sequence");--> statement-breakpoint
CREATE INDEX "ledger_entries_recorded_at_idx" ON "ledger_entries" USING btree ("recorded_at");--> statement-breakpoint
CREATE INDEX "ledger_entries_project_idx" ON "ledger_entries" USING btree ("project_id");--> statement-breakpoint
CREATE INDEX "ledger_entries_distribution_idx" ON "ledger_entries" USING btree ("distribution_id");