import { decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { fromBase64Url, toBase64Url } from "../../queues/push/base64url.ts";
import { createPushProviders } from "../../queues/push/index.ts";
import type { PushMessage } from "../../queues/push/provider.ts";
import { endpointAllowed } from "../../queues/push/web-push.ts";
import { encryptWebPush } from "../../queues/push/web-push-crypto.ts";
import {
	bodyBytes,
	bodyJson,
	browserSubscription,
	decryptWebPush,
	pushCredentials,
	receivedRequests,
	receiverUrl,
} from "./push-fixtures.ts";
import { runId } from "./support.ts";

const message = (tag: string): PushMessage => ({
	title: "New energy project",
	body: `Solar farm ${tag} in Kenya`,
	data: { event_id: `evt-${tag}`, event_type: "covenant.projects.created" },
	collapseId: `evt-${tag}`,
	ttlSeconds: 3600,
});

describe("Web Push encryption (RFC 8291)", () => {
	it("reproduces the RFC's worked example byte for byte", async () => {
		// RFC 8291 Appendix A: published test keys and salt.
		const uaPublic =
			"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
		const asPublic =
			"BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
		const asPrivate = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
		const asRaw = fromBase64Url(asPublic);
		const privateKey = await crypto.subtle.importKey(
			"jwk",
			{
				kty: "EC",
				crv: "P-256",
				d: asPrivate,
				x: toBase64Url(asRaw.slice(1, 33)),
				y: toBase64Url(asRaw.slice(33)),
			},
			{ name: "ECDH", namedCurve: "P-256" },
			false,
			["deriveBits"],
		);
		const body = await encryptWebPush(
			new TextEncoder().encode("When I grow up, I want to be a watermelon"),
			{ p256dh: uaPublic, auth: "BTBZMqHH6r4Tts7J_aSIgg" },
			{ salt: fromBase64Url("DGv6ra1nlYgDCS1FRnbzlw"), sender: { publicKey: asRaw, privateKey } },
		);
		expect(toBase64Url(body)).toBe(
			"DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN",
		);
	});

	it("encrypts so that the subscribed browser, and only it, can read the message", async () => {
		const browser = await browserSubscription("https://push.example/x");
		const body = await encryptWebPush(new TextEncoder().encode("hello"), browser.subscription.keys);
		expect(await decryptWebPush(body, { privateKey: browser.privateKey, ...browser.subscription.keys })).toBe(
			"hello",
		);
		const other = await browserSubscription("https://push.example/y");
		await expect(
			decryptWebPush(body, { privateKey: other.privateKey, ...browser.subscription.keys }),
		).rejects.toThrow();
	});

	it("only posts to https endpoints of allowed push services (http for loopback only)", () => {
		const allowed = ["fcm.googleapis.com", "notify.windows.com"];
		expect(endpointAllowed("https://fcm.googleapis.com/fcm/send/abc", allowed)).toBe(true);
		expect(endpointAllowed("https://wns2-par02p.notify.windows.com/w/?token=x", allowed)).toBe(true);
		expect(endpointAllowed("https://evilfcm.googleapis.com.attacker.net/x", allowed)).toBe(false);
		expect(endpointAllowed("http://fcm.googleapis.com/fcm/send/abc", allowed)).toBe(false);
		expect(endpointAllowed("http://127.0.0.1:9/x", ["127.0.0.1"])).toBe(true);
		expect(endpointAllowed("not a url", allowed)).toBe(false);
	});
});

describe("push providers against the local receiver", () => {
	it("FCM HTTP v1: exchanges a service-account JWT for a token, then posts messages:send with it", async () => {
		const tag = runId();
		const credentials = await pushCredentials();
		const providers = createPushProviders({ ...credentials.env } as never);
		const outcome = await providers.fcm.send(
			{ token: `fcm-${tag}-token-abcdefghij`, p256dh: null, auth: null },
			message(tag),
		);
		expect(outcome).toMatchObject({ status: "sent", httpStatus: 200 });
		expect(outcome.status === "sent" && outcome.messageId).toMatch(
			/^projects\/covenant-test\/messages\/\d+$/,
		);

		const sends = (await receivedRequests("/fcm/v1/projects/covenant-test/messages:send")).filter(
			(r) => bodyJson<{ message: { token: string } }>(r).message.token === `fcm-${tag}-token-abcdefghij`,
		);
		expect(sends).toHaveLength(1);
		const send = sends[0];
		if (!send) throw new Error("no FCM request");
		expect(send.headers.authorization).toMatch(/^Bearer receiver-access-\d+$/);
		expect(bodyJson(send)).toEqual({
			message: {
				token: `fcm-${tag}-token-abcdefghij`,
				notification: { title: "New energy project", body: `Solar farm ${tag} in Kenya` },
				data: { event_id: `evt-${tag}`, event_type: "covenant.projects.created" },
				android: { ttl: "3600s", priority: "HIGH" },
				apns: { headers: { "apns-collapse-id": `evt-${tag}` } },
			},
		});

		// The assertion the token endpoint received is an RS256 JWT of the service account for the FCM scope.
		const exchanges = await receivedRequests("/oauth/token");
		const assertions = exchanges.map(
			(r) => new URLSearchParams(new TextDecoder().decode(bodyBytes(r))).get("assertion") ?? "",
		);
		const verified = await Promise.all(
			assertions.map((jwt) =>
				jwtVerify(jwt, credentials.fcmPublicKey, { audience: `${receiverUrl()}/oauth/token` }).catch(
					() => null,
				),
			),
		);
		const ours = verified.find((v) => v !== null);
		expect(ours?.payload).toMatchObject({
			iss: "push@covenant-test.iam.gserviceaccount.com",
			scope: "https://www.googleapis.com/auth/firebase.messaging",
		});
		expect(ours?.protectedHeader).toMatchObject({ alg: "RS256", kid: "test-key" });
	});

	it("FCM: an unregistered token is reported invalid, an outage is retried", async () => {
		const tag = runId();
		const providers = createPushProviders((await pushCredentials()).env as never);
		expect(
			await providers.fcm.send(
				{ token: `gone-${tag}-token-abcdefgh`, p256dh: null, auth: null },
				message(tag),
			),
		).toMatchObject({
			status: "invalid_token",
			httpStatus: 404,
		});
		expect(
			await providers.fcm.send(
				{ token: `flaky-${tag}-token-abcdefg`, p256dh: null, auth: null },
				message(tag),
			),
		).toMatchObject({
			status: "retry",
			httpStatus: 503,
		});
	});

	it("APNs: POST /3/device/{token} with the topic, push type, collapse id and an ES256 provider token", async () => {
		const tag = runId();
		const credentials = await pushCredentials();
		const providers = createPushProviders(credentials.env as never);
		const token = `${"ab".repeat(30)}${tag.replace(/[^0-9a-f]/g, "0")}`;
		const outcome = await providers.apns.send({ token, p256dh: null, auth: null }, message(tag));
		expect(outcome).toMatchObject({ status: "sent", httpStatus: 200 });

		const [request] = await receivedRequests(`/apns/3/device/${token}`);
		if (!request) throw new Error("no APNs request");
		expect(request.method).toBe("POST");
		expect(request.headers).toMatchObject({
			"apns-topic": "org.covenant.app",
			"apns-push-type": "alert",
			"apns-priority": "10",
			"apns-collapse-id": `evt-${tag}`,
		});
		expect(bodyJson(request)).toEqual({
			aps: { alert: { title: "New energy project", body: `Solar farm ${tag} in Kenya` }, sound: "default" },
			event_id: `evt-${tag}`,
			event_type: "covenant.projects.created",
		});
		const jwt = request.headers.authorization?.replace(/^bearer /, "") ?? "";
		expect(decodeProtectedHeader(jwt)).toEqual({ alg: "ES256", kid: "KEY1234567" });
		const { payload } = await jwtVerify(jwt, credentials.apnsPublicKey);
		expect(payload.iss).toBe("TEAM123456");

		expect(
			await providers.apns.send({ token: `dead${"0".repeat(60)}`, p256dh: null, auth: null }, message(tag)),
		).toMatchObject({
			status: "invalid_token",
			httpStatus: 410,
		});
		expect(
			await providers.apns.send({ token: "not-hex", p256dh: null, auth: null }, message(tag)),
		).toMatchObject({
			status: "invalid_token",
		});
	});

	it("Web Push: an aes128gcm body the browser decrypts, with a VAPID JWT for the push service's origin", async () => {
		const tag = runId();
		const credentials = await pushCredentials();
		const providers = createPushProviders(credentials.env as never);
		const browser = await browserSubscription(`${receiverUrl()}/webpush/${tag}`);
		const outcome = await providers.webpush.send(
			{ token: browser.subscription.endpoint, ...browser.subscription.keys },
			message(tag),
		);
		expect(outcome).toMatchObject({ status: "sent", httpStatus: 201 });

		const [request] = await receivedRequests(`/webpush/${tag}`);
		if (!request) throw new Error("no Web Push request");
		expect(request.headers).toMatchObject({
			"content-encoding": "aes128gcm",
			"content-type": "application/octet-stream",
			ttl: "3600",
			urgency: "normal",
		});
		expect(request.headers.topic).toMatch(/^[\w-]{32}$/);
		const plaintext = await decryptWebPush(bodyBytes(request), {
			privateKey: browser.privateKey,
			...browser.subscription.keys,
		});
		expect(JSON.parse(plaintext)).toEqual({
			title: "New energy project",
			body: `Solar farm ${tag} in Kenya`,
			data: { event_id: `evt-${tag}`, event_type: "covenant.projects.created" },
		});

		const match = /^vapid t=([^,]+), k=([\w-]+)$/.exec(request.headers.authorization ?? "");
		expect(match?.[2]).toBe(credentials.env.VAPID_PUBLIC_KEY);
		const { payload, protectedHeader } = await jwtVerify(match?.[1] ?? "", credentials.vapidPublicKey, {
			audience: receiverUrl(),
		});
		expect(protectedHeader).toMatchObject({ alg: "ES256", typ: "JWT" });
		expect(payload.sub).toBe("mailto:ops@covenant.example");
		expect((payload.exp ?? 0) - Date.now() / 1000).toBeLessThanOrEqual(24 * 3600);

		const gone = await browserSubscription(`${receiverUrl()}/webpush/gone-${tag}`);
		expect(
			await providers.webpush.send(
				{ token: gone.subscription.endpoint, ...gone.subscription.keys },
				message(tag),
			),
		).toMatchObject({ status: "invalid_token", httpStatus: 410 });
	});

	it("a provider without credentials refuses, naming what is missing", async () => {
		const providers = createPushProviders({
			FCM_BASE_URL: "https://fcm.googleapis.com",
			FCM_PROJECT_ID: "",
		} as never);
		expect(
			await providers.fcm.send({ token: "t".repeat(30), p256dh: null, auth: null }, message("x")),
		).toEqual({
			status: "failed",
			httpStatus: null,
			error: "fcm provider not configured: set FCM_PROJECT_ID, FCM_SERVICE_ACCOUNT",
		});
		expect(
			await providers.apns.send({ token: "ab".repeat(32), p256dh: null, auth: null }, message("x")),
		).toMatchObject({
			status: "failed",
			error: expect.stringContaining("APNS_PRIVATE_KEY"),
		});
	});
});
