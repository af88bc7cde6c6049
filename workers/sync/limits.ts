/**
 * Records (created + updated + deleted ids) per pull response unless the client asks otherwise: about 0.5 MB
 * and 30 ms of worker CPU (docs/sync.md, `npm run bench:sync`), well inside the Workers CPU limit.
 */
export const DEFAULT_PAGE_SIZE = 1000;
/** The most a client may ask for in one response (about 1 MB; larger pages would near the CPU limit). */
export const MAX_PAGE_SIZE = 2000;
