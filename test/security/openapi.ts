import { call } from "../support/http.ts";

/** One operation of the OpenAPI document, as the shared security suite sees it. */
export interface Operation {
	method: string;
	/** The path template, e.g. `/v1/api-keys/{id}`. */
	template: string;
	/** The template with plausible values for its path parameters and required query parameters. */
	url: string;
	permission?: string;
	cost?: number;
	security?: Record<string, string[]>[];
	responses: Record<string, unknown>;
	hasBody: boolean;
}

interface Parameter {
	name: string;
	in: string;
	required?: boolean;
	schema?: {
		type?: string;
		enum?: unknown[];
		format?: string;
		pattern?: string;
		example?: unknown;
		minimum?: number;
	};
	example?: unknown;
}

interface RawOperation {
	parameters?: Parameter[];
	security?: Record<string, string[]>[];
	requestBody?: unknown;
	responses?: Record<string, unknown>;
	"x-required-permission"?: string;
	"x-rate-limit-cost"?: number;
}

const METHODS = ["get", "put", "post", "patch", "delete"];

/**
 * A value a route would plausibly accept for a parameter: its example or first enum value when the
 * document gives one, else a value shaped by its format, pattern or name.
 */
export function plausibleValue(parameter: Parameter): string {
	const schema = parameter.schema ?? {};
	const example = parameter.example ?? schema.example;
	if (example !== undefined) return String(example);
	if (schema.enum?.length) return String(schema.enum[0]);
	if (schema.format === "uuid") return crypto.randomUUID();
	if (schema.type === "integer" || schema.type === "number") return String(schema.minimum ?? 1);
	if (schema.pattern?.includes("a-z2-7")) return "aaaaaaaaaaaaaaaa";
	const name = parameter.name.toLowerCase();
	if (/(^|_)(code|iso2|nation)$/.test(name)) return "KE";
	if (/sector|slug/.test(name)) return "energy";
	if (/region/.test(name)) return "ams";
	if (/id$/.test(name)) return crypto.randomUUID();
	return "x";
}

export interface OpenApiDocument {
	paths: Record<string, Record<string, RawOperation>>;
	components?: { schemas?: Record<string, { properties?: Record<string, Record<string, unknown>> }> };
}

/** The worker's own /openapi.json (the suite fails loudly when the document cannot be produced). */
export async function loadDocument(): Promise<OpenApiDocument> {
	const response = await call("/openapi.json");
	const text = await response.text();
	if (response.status !== 200) {
		throw new Error(
			`/openapi.json answered ${response.status}; the security suite needs the document: ${text.slice(0, 300)}`,
		);
	}
	return JSON.parse(text) as OpenApiDocument;
}

/** Every operation of the document: the suite covers routes added later automatically. */
export function operationsOf(document: OpenApiDocument): Operation[] {
	const operations: Operation[] = [];
	for (const [template, item] of Object.entries(document.paths)) {
		for (const method of METHODS) {
			const raw = item[method];
			if (!raw) continue;
			let url = template;
			const query = new URLSearchParams();
			for (const parameter of raw.parameters ?? []) {
				if (parameter.in === "path")
					url = url.replace(`{${parameter.name}}`, encodeURIComponent(plausibleValue(parameter)));
				if (parameter.in === "query" && parameter.required)
					query.set(parameter.name, plausibleValue(parameter));
			}
			operations.push({
				method: method.toUpperCase(),
				template,
				url: query.size > 0 ? `${url}?${query}` : url,
				permission: raw["x-required-permission"],
				cost: raw["x-rate-limit-cost"],
				security: raw.security,
				responses: raw.responses ?? {},
				hasBody: raw.requestBody !== undefined,
			});
		}
	}
	return operations;
}
