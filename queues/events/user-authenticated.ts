import { z } from "zod";

/** `users.authenticated`: a user signed in (audit only; the envelope's `actor` is who). */
export const UserAuthenticatedData = z.looseObject({
	user_id: z.string().min(1).optional(),
	method: z.string().optional(),
});
export type UserAuthenticatedData = z.infer<typeof UserAuthenticatedData>;
