import { z } from "zod";
import { Snapshot } from "./fields.ts";

/**
 * `audit.permission_changed`: a principal's roles, scopes or keys changed (audit only, so nothing is required);
 * `principal` names whose permissions changed, before/after are kept verbatim in the audit log.
 */
export const PermissionChangedData = z.looseObject({
	principal: z.string().min(1).optional(),
	before: Snapshot.optional(),
	after: Snapshot.optional(),
});
export type PermissionChangedData = z.infer<typeof PermissionChangedData>;
