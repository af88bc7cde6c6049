import { describe, expect, it } from "vitest";
import { checkEndpointUrl, parseIpv6 } from "../../workers/webhooks/ssrf.ts";

const production = { allowLocalhost: false };
const development = { allowLocalhost: true };

const refused = (url: string, policy = production) => {
	const verdict = checkEndpointUrl(url, policy);
	return verdict.ok ? undefined : verdict.reason;
};

describe("SSRF guard: endpoint URLs", () => {
	it.each([
		"https://hooks.partner-bank.com/covenant",
		"https://api.partner.co.ke/webhooks?tenant=7",
		"https://HOOKS.Partner.com:443/x",
		"https://8.8.8.8/hook",
		"https://[2606:4700:4700::1111]/hook",
		"https://[::ffff:8.8.8.8]/hook",
		"https://xn--mnchen-3ya.de/hook",
	])("accepts %s", (url) => {
		expect(refused(url)).toBeUndefined();
	});

	it.each([
		["http://hooks.partner.com/x", /scheme must be https/],
		["ftp://hooks.partner.com/x", /scheme must be https/],
		["hooks.partner.com/x", /not an absolute URL/],
		["https://user:pass@hooks.partner.com/x", /credentials/],
		["https://token@hooks.partner.com/x", /credentials/],
		["https://hooks.partner.com:8443/x", /default https port/],
		["https://hooks.partner.com:80/x", /default https port/],
		["https://hooks.partner.com/x#frag", /fragment/],
	])("refuses %s", (url, reason) => {
		expect(refused(url)).toMatch(reason);
	});

	it.each([
		["https://localhost/x", /not a public hostname/],
		["https://LOCALHOST./x", /not a public hostname/],
		["https://api.localhost/x", /\.localhost names/],
		["https://printer.local/x", /\.local names/],
		["https://metadata.google.internal/computeMetadata/v1/", /metadata/],
		["https://db.internal/x", /\.internal names/],
		["https://metadata/x", /metadata/],
		["https://intranet/x", /no domain/],
		["https://router.home.arpa/x", /not a public hostname/],
	])("refuses the internal name %s", (url, reason) => {
		expect(refused(url)).toMatch(reason);
	});

	it.each([
		["https://127.0.0.1/x", /loopback/],
		["https://127.1/x", /loopback/], // short form, canonicalised by the URL parser
		["https://2130706433/x", /loopback/], // decimal
		["https://0x7f000001/x", /loopback/], // hex
		["https://0177.0.0.1/x", /loopback/], // octal
		["https://0.0.0.0/x", /this network/],
		["https://10.1.2.3/x", /private/],
		["https://172.16.0.1/x", /private/],
		["https://172.31.255.255/x", /private/],
		["https://192.168.1.10/x", /private/],
		["https://100.64.0.1/x", /carrier-grade NAT/],
		["https://100.100.100.200/x", /carrier-grade NAT/], // Alibaba Cloud metadata
		["https://169.254.169.254/latest/meta-data/", /link-local/], // AWS/GCP/Azure metadata
		["https://169.254.170.2/x", /link-local/], // ECS task metadata
		["https://192.0.0.192/x", /IETF/],
		["https://198.18.0.1/x", /benchmarking/],
		["https://224.0.0.1/x", /multicast/],
		["https://255.255.255.255/x", /reserved/],
	])("refuses the IPv4 literal %s", (url, reason) => {
		expect(refused(url)).toMatch(reason);
	});

	it.each([
		["https://[::1]/x", /loopback/],
		["https://[::]/x", /unspecified/],
		["https://[::ffff:127.0.0.1]/x", /IPv4-mapped form of a loopback/],
		["https://[::ffff:169.254.169.254]/x", /IPv4-mapped form of a link-local/],
		["https://[::ffff:10.0.0.1]/x", /IPv4-mapped form of a private/],
		["https://[::ffff:7f00:1]/x", /IPv4-mapped form of a loopback/],
		["https://[::127.0.0.1]/x", /reserved/],
		["https://[64:ff9b::a9fe:a9fe]/x", /NAT64/],
		["https://[2002:a9fe:a9fe::1]/x", /6to4 form of a link-local/],
		["https://[fc00::1]/x", /unique local/],
		["https://[fd00:ec2::254]/x", /unique local/], // AWS IPv6 metadata
		["https://[fe80::1]/x", /link-local/],
		["https://[fec0::1]/x", /site-local/],
		["https://[ff02::1]/x", /multicast/],
		["https://[2001:db8::1]/x", /documentation/],
		["https://[2001::1]/x", /Teredo/],
		["https://[100::1]/x", /not a global unicast/],
	])("refuses the IPv6 literal %s", (url, reason) => {
		expect(refused(url)).toMatch(reason);
	});

	it("lets the development setting allow http(s) to localhost on any port, and nothing else", () => {
		expect(refused("http://localhost:8080/hook", development)).toBeUndefined();
		expect(refused("http://127.0.0.1:9999/hook", development)).toBeUndefined();
		expect(refused("https://[::1]:8443/hook", development)).toBeUndefined();
		expect(refused("http://localhost:8080/hook", production)).toMatch(/https/);
		expect(refused("http://10.0.0.1:8080/hook", development)).toMatch(/https/);
		expect(refused("https://169.254.169.254/x", development)).toMatch(/link-local/);
		expect(refused("http://user:pw@localhost:8080/hook", development)).toMatch(/credentials/);
	});

	it("parses IPv6 forms, refusing malformed ones", () => {
		expect(parseIpv6("::1")).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
		expect(parseIpv6("2001:db8::8:800:200c:417a")).toEqual([0x2001, 0xdb8, 0, 0, 8, 0x800, 0x200c, 0x417a]);
		expect(parseIpv6("::ffff:1.2.3.4")).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
		expect(parseIpv6("1:2:3:4:5:6:7:8")).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
		expect(parseIpv6("1::2::3")).toBeUndefined();
		expect(parseIpv6("1:2:3:4:5:6:7:8:9")).toBeUndefined();
		expect(parseIpv6("fe80::1%eth0")).toBeUndefined();
	});
});
