import { z } from "@hono/zod-openapi";
import { and, count, eq, ne, sql } from "drizzle-orm";
import { fromBase64Url } from "../../../queues/push/base64url.ts";
import { webPushAllowedHosts } from "../../../queues/push/index.ts";
import { endpointAllowed } from "../../../queues/push/web-push.ts";
import type { App } from "../../app.ts";
import { inTransaction } from "../../db/queries/transaction.ts";
import { notificationDevices } from "../../db/schema/notifications.ts";
import { ApiError, problemResponses } from "../../lib/problem.ts";
import { defineRoute } from "../../lib/route.ts";
import { DeviceSchema, presentDevice } from "./schema.ts";

/** A person's devices are bounded: a client stuck registering in a loop cannot grow the fan-out without limit. */
export const MAX_DEVICES_PER_USER = 20;

const Label = z.string().trim().min(1).max(100).optional().openapi({ example: "Amina's Pixel" });

const base64urlOfLength = (bytes: number, what: string) =>
	z.string().refine(
		(text) => {
			try {
				const decoded = fromBase64Url(text);
				return decoded.length === bytes && (bytes !== 65 || decoded[0] === 0x04);
			} catch {
				return false;
			}
		},
		{ message: `must be ${what} (${bytes} bytes, base64url)` },
	);

export const RegisterDeviceBody = z
	.discriminatedUnion("platform", [
		z
			.object({
				platform: z.literal("fcm"),
				token: z
					.string()
					.min(20)
					.max(4096)
					.regex(/^[\w:.-]+$/, "an FCM registration token"),
				label: Label,
			})
			.strict(),
		z
			.object({
				platform: z.literal("apns"),
				token: z
					.string()
					.regex(/^[0-9a-fA-F]{64,200}$/, "an APNs device token (hex)")
					.transform((t) => t.toLowerCase()),
				label: Label,
			})
			.strict(),
		z
			.object({
				platform: z.literal("webpush"),
				/** The browser's PushSubscription as `subscription.toJSON()` gives it. */
				subscription: z
					.object({
						endpoint: z.url().max(2048),
						expirationTime: z.number().nullable().optional(),
						keys: z
							.object({
								p256dh: base64urlOfLength(65, "an uncompressed P-256 public key"),
								auth: base64urlOfLength(16, "the subscription's auth secret"),
							})
							.strict(),
					})
					.strict(),
				label: Label,
			})
			.strict(),
	])
	.openapi("RegisterDevice");
export type RegisterDeviceRequest = z.input<typeof RegisterDeviceBody>;

export const route = defineRoute({
	method: "post",
	path: "/v1/me/devices",
	tags: ["notifications"],
	summary: "Register a device (FCM token, APNs token or Web Push subscription) for your notifications",
	description:
		"Idempotent: registering a token you already registered answers 200 with the same device (re-enabling it if a push service had disabled it). A token registered by someone else moves to you (a phone changed hands). A Web Push endpoint must belong to an allowed push service.",
	access: { permission: "profile:write" },
	request: { body: { required: true, content: { "application/json": { schema: RegisterDeviceBody } } } },
	responses: {
		200: { description: "Already registered", content: { "application/json": { schema: DeviceSchema } } },
		201: {
			description: "Registered",
			headers: { Location: { description: "The device", schema: { type: "string" } } },
			content: { "application/json": { schema: DeviceSchema } },
		},
		...problemResponses(400, 406, 413, 415, 422),
	},
});

export const register = (app: App) =>
	app.openapi(route, async (c) => {
		const body = c.req.valid("json");
		const userId = c.var.principal.subject;
		const token = body.platform === "webpush" ? body.subscription.endpoint : body.token;
		if (body.platform === "webpush" && !endpointAllowed(token, webPushAllowedHosts(c.env))) {
			throw new ApiError("unprocessable", "The subscription endpoint is not on an allowed Web Push service", {
				errors: [
					{ path: ["subscription", "endpoint"], message: "not an allowed push service", code: "custom" },
				],
			});
		}
		const keys = body.platform === "webpush" ? body.subscription.keys : { p256dh: null, auth: null };
		const { row, created } = await inTransaction(c.var.db(), async (tx) => {
			// Serialises one person's registrations, so the device limit holds under concurrent requests.
			await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`devices:${userId}`}, 0))`);
			const [existing] = await tx
				.select()
				.from(notificationDevices)
				.where(and(eq(notificationDevices.platform, body.platform), eq(notificationDevices.token, token)))
				.for("update");
			const ownedBefore = existing?.userId === userId;
			if (!ownedBefore) {
				const [owned] = await tx
					.select({ n: count() })
					.from(notificationDevices)
					.where(
						and(
							eq(notificationDevices.userId, userId),
							existing ? ne(notificationDevices.id, existing.id) : undefined,
						),
					);
				if ((owned?.n ?? 0) >= MAX_DEVICES_PER_USER) {
					throw new ApiError(
						"unprocessable",
						`You have ${MAX_DEVICES_PER_USER} devices registered, the most allowed; remove one first`,
					);
				}
			}
			const values = {
				userId,
				platform: body.platform,
				token,
				p256dh: keys.p256dh,
				auth: keys.auth,
				label: body.label ?? existing?.label ?? null,
				updatedAt: new Date(),
				disabledAt: null,
				disabledReason: null,
			};
			if (existing) {
				const [updated] = await tx
					.update(notificationDevices)
					.set(values)
					.where(eq(notificationDevices.id, existing.id))
					.returning();
				return { row: updated, created: !ownedBefore };
			}
			const [inserted] = await tx.insert(notificationDevices).values(values).returning();
			return { row: inserted, created: true };
		});
		if (!row) throw new Error("device registration returned no row");
		const device = presentDevice(row);
		return created ? c.json(device, 201, { location: `/v1/me/devices/${row.id}` }) : c.json(device, 200);
	});
