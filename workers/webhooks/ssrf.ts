/**
 * The SSRF guard for partner endpoint URLs. A webhook makes this platform send requests to an address a
 * partner chose, so the address must be somewhere on the public internet: never this machine, a private
 * network, a cloud metadata service, or an odd port on a public host.
 *
 * What it cannot see: a public hostname whose DNS answer is a private address (DNS rebinding). Workers do not
 * resolve names themselves, and the Workers runtime refuses to connect to private and loopback addresses in
 * production, which covers that case; see docs/webhooks.md.
 */

export interface UrlPolicy {
	/** Development only: also accept http(s)://localhost, 127.0.0.1 and [::1] on any port (local receivers). */
	allowLocalhost: boolean;
}

export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

/** The longest endpoint URL accepted (a sane bound for storage and logs). */
export const MAX_URL_LENGTH = 2048;

const LOCALHOST_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);

/**
 * Names that never point at the public internet (RFC 6761, RFC 6762, RFC 8375 and cloud-internal zones),
 * matched as the whole name or its last labels.
 */
const INTERNAL_SUFFIXES = [
	"localhost",
	"local",
	"localdomain",
	"internal",
	"intranet",
	"lan",
	"home",
	"corp",
	"home.arpa",
	"arpa",
	"test",
	"invalid",
	"example",
	"onion",
];

/** Single-label names some clouds answer on their metadata address (resolved through the search domain). */
const METADATA_NAMES = new Set(["metadata", "instance-data", "metadata.google.internal"]);

/**
 * Checks an endpoint URL against the policy. Returns the parsed URL, or the reason it is refused, written for
 * the partner who typed it.
 */
export function checkEndpointUrl(raw: string, policy: UrlPolicy): UrlVerdict {
	if (raw.length > MAX_URL_LENGTH) return refuse(`the URL is longer than ${MAX_URL_LENGTH} characters`);
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return refuse("it is not an absolute URL");
	}
	if (url.protocol !== "https:" && url.protocol !== "http:") {
		return refuse(`the scheme must be https (was ${url.protocol.replace(/:$/, "")})`);
	}
	if (url.username !== "" || url.password !== "") {
		return refuse("credentials in the URL (user:password@) are not allowed; authenticate with the signature");
	}
	if (url.hash !== "") return refuse("a fragment (#...) is never sent to the server; remove it");

	// The WHATWG parser has already canonicalised the host: IPv4 in any notation (decimal, octal, hex, short
	// forms) becomes a dotted quad, IPv6 is bracketed and compressed, names are lower-cased and punycoded.
	const host = url.hostname.replace(/\.$/, "");
	if (policy.allowLocalhost && LOCALHOST_NAMES.has(host)) return { ok: true, url };

	if (url.protocol !== "https:") return refuse("the scheme must be https");
	if (url.port !== "") return refuse(`only the default https port (443) is allowed, not ${url.port}`);

	const hostProblem = hostRefusal(host);
	return hostProblem ? refuse(hostProblem) : { ok: true, url };
}

function refuse(reason: string): UrlVerdict {
	return { ok: false, reason };
}

/** Why a (canonical) host is not a public one, or undefined when it is. */
export function hostRefusal(host: string): string | undefined {
	if (host === "") return "the URL has no host";
	if (host.startsWith("[")) {
		const address = parseIpv6(host.slice(1, -1));
		if (!address) return "the IPv6 address is malformed";
		const reason = ipv6Refusal(address);
		return reason ? `${host} is ${reason}` : undefined;
	}
	const v4 = parseIpv4(host);
	if (v4 !== undefined) {
		const reason = ipv4Refusal(v4);
		return reason ? `${host} is ${reason}` : undefined;
	}
	if (METADATA_NAMES.has(host)) return `${host} is a cloud metadata service`;
	if (!host.includes(".")) return `${host} is not a public hostname (it has no domain)`;
	for (const suffix of INTERNAL_SUFFIXES) {
		if (host === suffix || host.endsWith(`.${suffix}`)) {
			return `${host} is not a public hostname (.${suffix} names are local or reserved)`;
		}
	}
	if (/^\d+$/.test(host.split(".").at(-1) ?? "")) return `${host} is not a valid public hostname`;
	return undefined;
}

// ---- IPv4 ---------------------------------------------------------------------------------------------

/** A dotted-quad IPv4 address as an unsigned 32-bit number, or undefined. */
export function parseIpv4(host: string): number | undefined {
	const parts = host.split(".");
	if (parts.length !== 4) return undefined;
	let value = 0;
	for (const part of parts) {
		if (!/^\d{1,3}$/.test(part)) return undefined;
		const octet = Number(part);
		if (octet > 255) return undefined;
		value = value * 256 + octet;
	}
	return value;
}

/** [network, prefix length, what it is]: every IPv4 range that is not the public internet. */
const IPV4_REFUSED: readonly [string, number, string][] = [
	["0.0.0.0", 8, "a 'this network' address"],
	["10.0.0.0", 8, "a private address"],
	["100.64.0.0", 10, "a carrier-grade NAT address (and some clouds' metadata services)"],
	["127.0.0.0", 8, "a loopback address"],
	["169.254.0.0", 16, "a link-local address (cloud metadata services live here)"],
	["172.16.0.0", 12, "a private address"],
	["192.0.0.0", 24, "an IETF protocol assignment"],
	["192.0.2.0", 24, "a documentation address"],
	["192.88.99.0", 24, "a 6to4 relay address"],
	["192.168.0.0", 16, "a private address"],
	["198.18.0.0", 15, "a benchmarking address"],
	["198.51.100.0", 24, "a documentation address"],
	["203.0.113.0", 24, "a documentation address"],
	["224.0.0.0", 4, "a multicast address"],
	["240.0.0.0", 4, "a reserved address"],
];

const IPV4_RANGES = IPV4_REFUSED.map(([network, bits, reason]) => ({
	network: parseIpv4(network) as number,
	size: 2 ** (32 - bits),
	reason,
}));

export function ipv4Refusal(address: number): string | undefined {
	for (const range of IPV4_RANGES) {
		if (address >= range.network && address < range.network + range.size) return range.reason;
	}
	return undefined;
}

// ---- IPv6 ---------------------------------------------------------------------------------------------

/** An IPv6 address (without brackets) as eight 16-bit groups, or undefined. Accepts an embedded IPv4 tail. */
export function parseIpv6(text: string): number[] | undefined {
	if (text.includes("%")) return undefined; // zone ids are never valid in URLs
	let source = text;
	let v4Tail: [number, number] | undefined;
	const lastColon = source.lastIndexOf(":");
	if (lastColon === -1) return undefined;
	const last = source.slice(lastColon + 1);
	if (last.includes(".")) {
		const v4 = parseIpv4(last);
		if (v4 === undefined) return undefined;
		v4Tail = [Math.floor(v4 / 65536), v4 % 65536];
		source = `${source.slice(0, lastColon + 1)}0:0`;
	}
	const halves = source.split("::");
	if (halves.length > 2) return undefined;
	const split = (part: string) => (part === "" ? [] : part.split(":"));
	const head = split(halves[0] ?? "");
	const rest = split(halves[1] ?? "");
	const missing = 8 - head.length - rest.length;
	if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
	const groups: number[] = [];
	for (const group of [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest]) {
		if (!/^[0-9a-f]{1,4}$/i.test(group)) return undefined;
		groups.push(Number.parseInt(group, 16));
	}
	if (v4Tail) [groups[6], groups[7]] = v4Tail;
	return groups;
}

const ipv4From = (high: number, low: number) => high * 65536 + low;

/**
 * Only global unicast (2000::/3) is public, minus documentation, and minus the forms that embed an IPv4
 * address, which are judged by that address.
 */
export function ipv6Refusal(g: number[]): string | undefined {
	const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
	const embedded = (reason: string) => {
		const inner = ipv4Refusal(ipv4From(g6, g7));
		return inner ? `${reason} of ${inner}` : undefined;
	};
	const leadingZeros = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
	if (leadingZeros && g5 === 0 && g6 === 0 && g7 === 0) return "the unspecified address";
	if (leadingZeros && g5 === 0 && g6 === 0 && g7 === 1) return "a loopback address";
	// ::ffff:a.b.c.d (IPv4-mapped) reaches the IPv4 address itself: judged by it.
	if (leadingZeros && g5 === 0xffff) return embedded("an IPv4-mapped form");
	if (leadingZeros) return "a reserved address (IPv4-compatible or unassigned)";
	if (g0 === 0x64 && g1 === 0xff9b) return "a NAT64 address";
	if (g0 === 0x2002) {
		const inner = ipv4Refusal(ipv4From(g1, g2));
		return inner ? `a 6to4 form of ${inner}` : undefined;
	}
	if ((g0 & 0xfe00) === 0xfc00) return "a unique local (private) address";
	if ((g0 & 0xffc0) === 0xfe80) return "a link-local address";
	if ((g0 & 0xffc0) === 0xfec0) return "a site-local address";
	if ((g0 & 0xff00) === 0xff00) return "a multicast address";
	if (g0 === 0x2001 && g1 === 0x0db8) return "a documentation address";
	if (g0 === 0x2001 && g1 === 0) return "a Teredo tunnel address";
	if ((g0 & 0xe000) !== 0x2000) return "not a global unicast address";
	return undefined;
}
