/**
 * How long deletions are remembered for mobile sync (docs/sync.md). The daily sweep prunes tombstones older
 * than TOMBSTONE_RETENTION_DAYS; a device whose last pull is older than RESYNC_AFTER_DAYS could miss one of them,
 * so its pull is answered 410 `resync_required`: it resets its local database and syncs from scratch. The day
 * between the two absorbs clock differences between the sweep and the pull.
 */
export const TOMBSTONE_RETENTION_DAYS = 30;
export const RESYNC_AFTER_DAYS = TOMBSTONE_RETENTION_DAYS - 1;

const DAY_MS = 86_400_000;
export const TOMBSTONE_RETENTION_MS = TOMBSTONE_RETENTION_DAYS * DAY_MS;
export const RESYNC_AFTER_MS = RESYNC_AFTER_DAYS * DAY_MS;
