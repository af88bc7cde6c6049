import { hotRead as getNation } from "../routes/nations/get-nation.ts";
import { hotRead as listProjects } from "../routes/projects/list-projects.ts";
import { compileHotReads } from "./hot-path.ts";

/**
 * The reads the isolate hot path serves (workers/cache/hot-path.ts, docs/caching.md): the hottest cached
 * routes. Each route module declares its own entry beside its handler.
 */
export const HOT_READS = compileHotReads([getNation, listProjects]);
