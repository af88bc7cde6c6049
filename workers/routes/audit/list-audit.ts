import { z } from "@hono/zod-openapi";
import { and, desc, eq, inArray, lt, or, type SQL, sql } from "drizzle-orm";
import { SECTOR_SLUGS } from "../../../queues/envelope.ts";
import type { App } from "../../app.ts";
import {
	DEFAULT_PAGE_SIZE,
	decodeCursor,
	fingerprint,
	MAX_PAGE_SIZE,
	toPage,
} from "../../db/queries/pagination.ts";
import { auditLog } from "../../db/schema/audit.ts";
import { SERVING_REGIONS } from "../../domain/serving-regions.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { AuditEntrySchema, presentAuditEntry } from "./schema.ts";

/** An exact value, or a prefix ending in `*` (`covenant.projects.*`, `projects/*`). */
const ExactOrPrefix = z
	.string()
	.min(1)
	.max(200)
	.regex(/^[^*]*\*?$/, "a value, or a prefix followed by a single trailing *");

export const ListAuditQuery = z
	.object({
		actor: z.string().min(1).max(255).optional().openapi({ description: "Exact principal id (or `system`)" }),
		action: ExactOrPrefix.optional().openapi({
			description: "Event type, or a prefix: `covenant.projects.*`",
		}),
		target: ExactOrPrefix.optional().openapi({ description: "Event subject, or a prefix: `projects/*`" }),
		nation: z
			.string()
			.regex(/^[A-Z]{2}$/)
			.optional(),
		sector: z.enum(SECTOR_SLUGS).optional(),
		serving_region: z.enum(SERVING_REGIONS).optional(),
		from: z.iso.datetime({ offset: true }).optional().openapi({ description: "occurred_at >= from" }),
		to: z.iso.datetime({ offset: true }).optional().openapi({ description: "occurred_at < to" }),
		cursor: z.string().max(512).optional().openapi({ description: "next_cursor of the previous page" }),
		limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
	})
	.strict();

export const AuditPageSchema = z
	.object({
		data: z.array(AuditEntrySchema),
		next_cursor: z
			.string()
			.nullable()
			.openapi({ description: "Pass as `cursor` for the next page; null on the last" }),
	})
	.openapi("AuditPage");
export type AuditPageResponse = z.infer<typeof AuditPageSchema>;

export const route = defineRoute({
	method: "get",
	path: "/v1/audit",
	tags: ["audit"],
	summary: "The audit trail, newest first, filtered",
	description:
		"Needs `audit:read` (admins). A principal holding it only for some nations, sectors or regions sees the entries whose object is in one of them.",
	access: { permission: "audit:read" },
	cost: 2,
	request: { query: ListAuditQuery },
	responses: {
		200: {
			description: "A page of audit entries",
			content: { "application/json": { schema: AuditPageSchema } },
		},
		...problemResponses(400, 406),
	},
});

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (ch) => `\\${ch}`);

function exactOrPrefix(column: typeof auditLog.action | typeof auditLog.target, value: string): SQL {
	return value.endsWith("*")
		? sql`${column} like ${`${escapeLike(value.slice(0, -1))}%`}`
		: (eq(column, value) as SQL);
}

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const { cursor, limit, ...filters } = c.req.valid("query");
		if (filters.from && filters.to && Date.parse(filters.from) >= Date.parse(filters.to)) {
			throw new ApiError("invalid_request", "`from` must be before `to`");
		}
		const print = fingerprint(JSON.stringify(Object.entries(filters).sort()));
		const after = decodeCursor(cursor, print);
		const conditions: (SQL | undefined)[] = [];
		const visibility = c.var.principal.visibility("audit:read");
		if (!visibility.all) {
			const none = [""];
			conditions.push(
				or(
					inArray(auditLog.nation, visibility.nations.length ? visibility.nations : none),
					inArray(auditLog.sector, visibility.sectors.length ? visibility.sectors : none),
					inArray(auditLog.servingRegion, visibility.regions.length ? visibility.regions : none),
				),
			);
		}
		if (filters.actor) conditions.push(eq(auditLog.actor, filters.actor));
		if (filters.action) conditions.push(exactOrPrefix(auditLog.action, filters.action));
		if (filters.target) conditions.push(exactOrPrefix(auditLog.target, filters.target));
		if (filters.nation) conditions.push(eq(auditLog.nation, filters.nation));
		if (filters.sector) conditions.push(eq(auditLog.sector, filters.sector));
		if (filters.serving_region) conditions.push(eq(auditLog.servingRegion, filters.serving_region));
		if (filters.from) conditions.push(sql`${auditLog.occurredAt} >= ${filters.from}::timestamptz`);
		if (filters.to) conditions.push(sql`${auditLog.occurredAt} < ${filters.to}::timestamptz`);
		if (after !== undefined) {
			const seq = Number(after);
			if (!Number.isSafeInteger(seq) || seq < 1) {
				throw new ApiError(
					"invalid_request",
					"The cursor is not valid here: it is not a cursor this API issued",
				);
			}
			conditions.push(lt(auditLog.seq, seq));
		}
		const rows = await c.var
			.db()
			.select()
			.from(auditLog)
			.where(and(...conditions))
			.orderBy(desc(auditLog.seq))
			.limit(limit + 1);
		const page = toPage(rows, limit, (row) => String(row.seq), presentAuditEntry, print);
		return c.json(page, 200, { "cache-control": "no-store" });
	});
