import { z } from "@hono/zod-openapi";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * The one set of error codes the API answers with. Every code maps to exactly one HTTP status, so a client can
 * switch on `code` and the OpenAPI document can list each route's possible errors.
 */
export const PROBLEM_STATUS = {
	invalid_request: 400,
	unauthorized: 401,
	forbidden: 403,
	not_found: 404,
	method_not_allowed: 405,
	not_acceptable: 406,
	conflict: 409,
	resync_required: 410,
	precondition_failed: 412,
	payload_too_large: 413,
	unsupported_media_type: 415,
	unprocessable: 422,
	idempotency_key_reused: 422,
	rate_limited: 429,
	internal: 500,
	unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ProblemCode = keyof typeof PROBLEM_STATUS;

const TITLES: Record<ProblemCode, string> = {
	invalid_request: "The request is invalid",
	unauthorized: "Authentication is required",
	forbidden: "Not allowed",
	not_found: "Not found",
	method_not_allowed: "Method not allowed",
	not_acceptable: "Not acceptable",
	conflict: "Conflict",
	resync_required: "Synchronize from scratch",
	precondition_failed: "Precondition failed",
	payload_too_large: "Payload too large",
	unsupported_media_type: "Unsupported media type",
	unprocessable: "The request cannot be processed",
	idempotency_key_reused: "Idempotency key reused with a different request",
	rate_limited: "Too many requests",
	internal: "Internal error",
	unavailable: "Service unavailable",
};

export const PROBLEM_BASE = "https://docs.covenant.example/problems/";

export interface ProblemIssue {
	path: (string | number)[];
	message: string;
	code: string;
}

export interface Problem {
	type: string;
	title: string;
	status: number;
	detail: string;
	code: ProblemCode;
	instance?: string;
	request_id?: string;
	errors?: ProblemIssue[];
	[extension: string]: unknown;
}

/**
 * The single error class of the API. Throw it anywhere in a request; the app's error handler renders it as an
 * RFC 9457 `application/problem+json` response. `extensions` adds members (e.g. per-item batch errors).
 */
export class ApiError extends Error {
	readonly code: ProblemCode;
	readonly status: ContentfulStatusCode;
	readonly errors?: ProblemIssue[];
	readonly extensions?: Record<string, unknown>;
	readonly headers?: Record<string, string>;

	constructor(
		code: ProblemCode,
		detail: string,
		options: {
			errors?: ProblemIssue[];
			extensions?: Record<string, unknown>;
			headers?: Record<string, string>;
		} = {},
	) {
		super(detail);
		this.name = "ApiError";
		this.code = code;
		this.status = PROBLEM_STATUS[code];
		this.errors = options.errors;
		this.extensions = options.extensions;
		this.headers = options.headers;
	}

	toProblem(instance?: string, requestId?: string): Problem {
		return problemBody(this.code, this.message, {
			instance,
			request_id: requestId,
			errors: this.errors,
			...this.extensions,
		});
	}
}

export function problemBody(code: ProblemCode, detail: string, extra: Record<string, unknown> = {}): Problem {
	const body: Problem = {
		type: `${PROBLEM_BASE}${code}`,
		title: TITLES[code],
		status: PROBLEM_STATUS[code],
		detail,
		code,
	};
	for (const [key, value] of Object.entries(extra)) if (value !== undefined) body[key] = value;
	return body;
}

export function problemResponse(problem: Problem, headers: Record<string, string> = {}): Response {
	return new Response(JSON.stringify(problem), {
		status: problem.status,
		headers: { "content-type": "application/problem+json", ...headers },
	});
}

/** Turns zod issues into the problem's `errors` member: a path a client can point at, and a message. */
export function zodIssues(error: z.ZodError): ProblemIssue[] {
	return error.issues.map((issue) => ({
		path: issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)),
		message: issue.message,
		code: issue.code,
	}));
}

export const ProblemSchema = z
	.object({
		type: z.string().openapi({ example: `${PROBLEM_BASE}not_found` }),
		title: z.string().openapi({ example: "Not found" }),
		status: z.number().int().openapi({ example: 404 }),
		detail: z.string().openapi({ example: "No nation with code 'XX'" }),
		code: z.enum(Object.keys(PROBLEM_STATUS) as [ProblemCode, ...ProblemCode[]]),
		instance: z.string().optional(),
		request_id: z.string().optional(),
		errors: z
			.array(
				z.object({ path: z.array(z.union([z.string(), z.number()])), message: z.string(), code: z.string() }),
			)
			.optional()
			.openapi({ description: "The validation issues, for a 400" }),
	})
	.catchall(z.unknown())
	.openapi("Problem", { description: "An RFC 9457 problem details object" });

const problemContent = { "application/problem+json": { schema: ProblemSchema } };

type ErrorStatus = (typeof PROBLEM_STATUS)[ProblemCode];

/**
 * The OpenAPI `responses` entries for the given problem statuses. Every route spreads these (plus the common
 * ones) into its definition so the document lists every error it can answer.
 */
export function problemResponses<const S extends ErrorStatus>(...statuses: S[]) {
	const out = {} as Record<S, { description: string; content: typeof problemContent }>;
	for (const status of statuses) {
		const codes = (Object.keys(PROBLEM_STATUS) as ProblemCode[]).filter((c) => PROBLEM_STATUS[c] === status);
		out[status] = { description: codes.map((c) => TITLES[c]).join("; "), content: problemContent };
	}
	return out;
}
