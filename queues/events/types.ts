/** The six sectors; a sector's update event carries its slug in the type. */
export const SECTOR_SLUGS = ["agriculture", "minerals", "energy", "tech", "health", "education"] as const;
export type SectorSlug = (typeof SECTOR_SLUGS)[number];

/** The seed's topic names, used as CloudEvents `type`. */
export const EVENT_TYPES = [
	"covenant.countries.updated",
	...SECTOR_SLUGS.map((s) => `covenant.sectors.${s}.updated` as const),
	"covenant.projects.created",
	"covenant.projects.updated",
	"covenant.payments.recorded",
	"covenant.payments.distributed",
	"alerts.anomaly.detected",
	"notifications.push.queued",
	"users.authenticated",
	"audit.permission_changed",
	"sync.changes.applied",
	"webhooks.endpoint.disabled",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The sector a `covenant.sectors.<slug>.updated` type names, or undefined for any other type. */
export function sectorOfType(type: string): SectorSlug | undefined {
	const match = /^covenant\.sectors\.([a-z]+)\.updated$/.exec(type);
	return (SECTOR_SLUGS as readonly string[]).includes(match?.[1] ?? "")
		? (match?.[1] as SectorSlug)
		: undefined;
}
