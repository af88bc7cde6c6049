// swagger-parser's OpenAPI 3.1 JSON-schema validator, imported by path: the package's entry point does not load
// inside workerd (a CommonJS class hierarchy), this module does. It throws a SyntaxError listing the violations.
declare module "@apidevtools/swagger-parser/lib/validators/schema.js" {
	export default function validateSchema(api: unknown): void;
}
