import type { AnyPgColumn, PgTable } from "drizzle-orm/pg-core";
import { apiKeys } from "./api-keys.ts";
import { revocations } from "./revocations.ts";
import { users } from "./users.ts";

/**
 * Every column that holds personal data, per table, with the column that links a row to its person. Erasure
 * and data-residency work start here: a table that stores anything about a person adds itself to this list
 * (the typed column references break the build when a listed column is renamed or dropped).
 */
export interface PersonalDataEntry {
	table: PgTable;
	/** The column holding the person's identity provider subject (`sub`), to find all of a person's rows. */
	subject: AnyPgColumn;
	columns: readonly AnyPgColumn[];
	/** When only some rows are personal (e.g. revocations of a subject rather than a token id). */
	onlyWhere?: string;
}

export const PERSONAL_DATA: readonly PersonalDataEntry[] = [
	{
		table: users,
		subject: users.sub,
		columns: [
			users.sub,
			users.email,
			users.name,
			users.displayName,
			users.locale,
			users.preferences,
			users.lastAuthenticatedAt,
		],
	},
	{
		table: apiKeys,
		subject: apiKeys.ownerSub,
		columns: [apiKeys.ownerSub, apiKeys.createdBy, apiKeys.revokedBy],
	},
	{
		table: revocations,
		subject: revocations.value,
		columns: [revocations.value, revocations.createdBy],
		onlyWhere: "kind = 'sub'",
	},
];
