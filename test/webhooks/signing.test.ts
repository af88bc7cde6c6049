import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import {
	decryptSecret,
	encryptSecret,
	KeyringError,
	needsReencryption,
	parseKeyring,
} from "../../workers/webhooks/encryption.ts";
import { generateSecret, secretKeyBytes, signMessage } from "../../workers/webhooks/signing.ts";

const body = JSON.stringify({ id: "evt_1", type: "covenant.projects.created", data: { project_id: "p1" } });

async function signed(secrets: string[], timestamp = new Date()) {
	return signMessage(secrets, { id: "evt_1", timestamp, body });
}

describe("Standard Webhooks signing, checked with the standardwebhooks verifier", () => {
	it("generates whsec_ secrets of 32 random bytes, each different", () => {
		const a = generateSecret();
		const b = generateSecret();
		expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
		expect(secretKeyBytes(a)).toHaveLength(32);
		expect(a).not.toBe(b);
	});

	it("produces headers the official verifier accepts, returning the payload", async () => {
		const secret = generateSecret();
		const headers = await signed([secret]);
		expect(headers["webhook-id"]).toBe("evt_1");
		expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
		expect(new Webhook(secret).verify(body, { ...headers })).toEqual(JSON.parse(body));
	});

	it("fails verification with another secret, a tampered body, id or timestamp", async () => {
		const secret = generateSecret();
		const headers = await signed([secret]);
		const verifier = new Webhook(secret);
		expect(() => new Webhook(generateSecret()).verify(body, { ...headers })).toThrow(/No matching signature/);
		expect(() => verifier.verify(body.replace("p1", "p2"), { ...headers })).toThrow(/No matching signature/);
		expect(() => verifier.verify(body, { ...headers, "webhook-id": "evt_2" })).toThrow(
			/No matching signature/,
		);
		const shifted = String(Number(headers["webhook-timestamp"]) + 1);
		expect(() => verifier.verify(body, { ...headers, "webhook-timestamp": shifted })).toThrow(
			/No matching signature/,
		);
	});

	it("is refused when signed more than 5 minutes in the past or the future", async () => {
		const secret = generateSecret();
		const verifier = new Webhook(secret);
		const old = await signed([secret], new Date(Date.now() - 5 * 60_000 - 10_000));
		const ahead = await signed([secret], new Date(Date.now() + 5 * 60_000 + 10_000));
		expect(() => verifier.verify(body, { ...old })).toThrow(/too old/);
		expect(() => verifier.verify(body, { ...ahead })).toThrow(/too new/);
		const recent = await signed([secret], new Date(Date.now() - 4 * 60_000));
		expect(() => verifier.verify(body, { ...recent })).not.toThrow();
	});

	it("sends one signature per secret during a rotation, each verifying with its own secret", async () => {
		const current = generateSecret();
		const previous = generateSecret();
		const headers = await signed([current, previous]);
		const signatures = headers["webhook-signature"].split(" ");
		expect(signatures).toHaveLength(2);
		expect(
			new Webhook(current).verify(body, { ...headers, "webhook-signature": signatures[0] as string }),
		).toBeTruthy();
		expect(
			new Webhook(previous).verify(body, { ...headers, "webhook-signature": signatures[1] as string }),
		).toBeTruthy();
		// Either secret accepts the header as sent.
		expect(new Webhook(previous).verify(body, { ...headers })).toBeTruthy();
		expect(() =>
			new Webhook(current).verify(body, { ...headers, "webhook-signature": signatures[1] as string }),
		).toThrow();
	});

	it("refuses to sign with a malformed secret", async () => {
		await expect(signMessage(["not-a-secret"], { id: "e", timestamp: new Date(), body })).rejects.toThrow(
			/whsec_/,
		);
		await expect(
			signMessage([`whsec_${btoa("short")}`], { id: "e", timestamp: new Date(), body }),
		).rejects.toThrow(/24-64 bytes/);
	});
});

const keyOf = (fill: number) => btoa(String.fromCharCode(...new Uint8Array(32).fill(fill)));

describe("secret encryption at rest (AES-GCM keyring)", () => {
	it("round-trips, never stores the plaintext, and binds the ciphertext to its endpoint", async () => {
		const keyring = await parseKeyring(`k1:${keyOf(1)}`, false);
		const secret = generateSecret();
		const sealed = await encryptSecret(keyring, "endpoint-a", secret);
		expect(sealed).toMatch(/^enc:v1:k1:/);
		expect(sealed).not.toContain(secret.slice(6));
		expect(await decryptSecret(keyring, "endpoint-a", sealed)).toBe(secret);
		await expect(decryptSecret(keyring, "endpoint-b", sealed)).rejects.toThrow();
		// Two encryptions of the same secret differ (fresh IV).
		expect(await encryptSecret(keyring, "endpoint-a", secret)).not.toBe(sealed);
	});

	it("rotates the encryption key: new key first encrypts, old key still decrypts", async () => {
		const old = await parseKeyring(`k1:${keyOf(1)}`, false);
		const sealed = await encryptSecret(old, "e", "whsec_x");
		const rotated = await parseKeyring(`k2:${keyOf(2)}, k1:${keyOf(1)}`, false);
		expect(rotated.currentId).toBe("k2");
		expect(await decryptSecret(rotated, "e", sealed)).toBe("whsec_x");
		expect(needsReencryption(rotated, sealed)).toBe(true);
		expect(needsReencryption(rotated, await encryptSecret(rotated, "e", "whsec_x"))).toBe(false);
		const dropped = await parseKeyring(`k2:${keyOf(2)}`, false);
		await expect(decryptSecret(dropped, "e", sealed)).rejects.toThrow(/key 'k1'.*no longer listed/);
	});

	it("refuses bad keyrings with the setting's name, and development keys in production", async () => {
		await expect(parseKeyring("", false)).rejects.toThrow(KeyringError);
		await expect(parseKeyring(`k1:${btoa("too short")}`, false)).rejects.toThrow(
			/WEBHOOK_SECRETS_KEY: key 'k1' is 9 bytes/,
		);
		await expect(parseKeyring(`k1:${keyOf(1)},k1:${keyOf(2)}`, false)).rejects.toThrow(/listed twice/);
		await expect(parseKeyring(`dev-only:${keyOf(1)}`, true)).rejects.toThrow(
			/must not be used in production/,
		);
		expect((await parseKeyring(keyOf(3), true)).currentId).toBe("0");
	});
});
