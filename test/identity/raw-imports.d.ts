// Vite imports a file as a string with `?raw` (used to check the docs against the code).
declare module "*.md?raw" {
	const content: string;
	export default content;
}
