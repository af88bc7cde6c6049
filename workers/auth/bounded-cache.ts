interface Entry<V> {
	value: V;
	expiresAt: number;
	bytes: number;
}

/**
 * A small in-isolate LRU cache with a time-to-live, bounded both in entries and in (estimated) bytes, so a
 * flood of distinct keys can never grow an isolate's memory without limit.
 */
export class BoundedCache<K, V> {
	readonly #entries = new Map<K, Entry<V>>();
	readonly #maxEntries: number;
	readonly #maxBytes: number;
	readonly #sizeOf: (key: K, value: V) => number;
	#bytes = 0;
	/** The entry last stored or used: the last in the map's order. */
	#newest: Entry<V> | undefined;

	constructor(options: { maxEntries: number; maxBytes: number; sizeOf?: (key: K, value: V) => number }) {
		this.#maxEntries = options.maxEntries;
		this.#maxBytes = options.maxBytes;
		this.#sizeOf = options.sizeOf ?? ((key, value) => estimateBytes(key) + estimateBytes(value));
	}

	get(key: K, now = Date.now()): V | undefined {
		const entry = this.#entries.get(key);
		if (!entry) return undefined;
		if (entry.expiresAt <= now) {
			this.delete(key);
			return undefined;
		}
		// Re-insert to mark as most recently used (already so when it was the last one used: a hot key).
		if (entry !== this.#newest) {
			this.#entries.delete(key);
			this.#entries.set(key, entry);
			this.#newest = entry;
		}
		return entry.value;
	}

	set(key: K, value: V, ttlMs: number, now = Date.now()): void {
		this.delete(key);
		const bytes = this.#sizeOf(key, value);
		if (bytes > this.#maxBytes) return;
		const entry = { value, expiresAt: now + ttlMs, bytes };
		this.#entries.set(key, entry);
		this.#newest = entry;
		this.#bytes += bytes;
		while (this.#entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
			const oldest = this.#entries.keys().next();
			if (oldest.done) break;
			this.delete(oldest.value);
		}
	}

	delete(key: K): void {
		const entry = this.#entries.get(key);
		if (!entry) return;
		this.#bytes -= entry.bytes;
		this.#entries.delete(key);
		if (entry === this.#newest) this.#newest = undefined;
	}

	clear(): void {
		this.#entries.clear();
		this.#newest = undefined;
		this.#bytes = 0;
	}

	get size(): number {
		return this.#entries.size;
	}

	get bytes(): number {
		return this.#bytes;
	}
}

/** A rough size: strings by length, other values by their JSON form; good enough to bound memory. */
function estimateBytes(value: unknown): number {
	if (typeof value === "string") return value.length * 2 + 16;
	if (typeof value === "number" || typeof value === "boolean" || value == null) return 16;
	try {
		return (JSON.stringify(value)?.length ?? 0) * 2 + 32;
	} catch {
		return 1024;
	}
}
