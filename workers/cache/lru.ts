/**
 * A least-recently-used map bounded by entry count AND by bytes, for the in-isolate tier of the read cache.
 * An isolate has 128 MB for everything; a cache bounded only by entries could be filled with a few huge list
 * pages. Sizes are what the caller says an entry costs (see `entryBytes`), evicting oldest first until both
 * bounds hold. A single value larger than `maxBytes` is never stored.
 */
export interface LruBounds {
	maxEntries: number;
	maxBytes: number;
}

interface Slot<V> {
	value: V;
	bytes: number;
}

export class BoundedLru<V> {
	readonly maxEntries: number;
	readonly maxBytes: number;
	// A Map iterates in insertion order: re-inserting on access keeps the least recently used first.
	readonly #slots = new Map<string, Slot<V>>();
	#bytes = 0;
	/** The slot last stored or used: the last in the map's order. */
	#newest: Slot<V> | undefined;

	constructor(bounds: LruBounds) {
		if (!(bounds.maxEntries >= 1 && bounds.maxBytes >= 1)) {
			throw new RangeError("an LRU needs room for at least one entry and one byte");
		}
		this.maxEntries = bounds.maxEntries;
		this.maxBytes = bounds.maxBytes;
	}

	get size(): number {
		return this.#slots.size;
	}

	get bytes(): number {
		return this.#bytes;
	}

	get(key: string): V | undefined {
		const slot = this.#slots.get(key);
		if (!slot) return undefined;
		if (slot !== this.#newest) {
			this.#slots.delete(key);
			this.#slots.set(key, slot);
			this.#newest = slot;
		}
		return slot.value;
	}

	/** Stores the value; returns false (and drops any previous value) when it alone exceeds maxBytes. */
	set(key: string, value: V, bytes: number): boolean {
		this.delete(key);
		if (bytes > this.maxBytes) return false;
		const slot = { value, bytes };
		this.#slots.set(key, slot);
		this.#newest = slot;
		this.#bytes += bytes;
		while (this.#slots.size > this.maxEntries || this.#bytes > this.maxBytes) {
			const oldest = this.#slots.keys().next();
			if (oldest.done) break;
			this.delete(oldest.value);
		}
		return true;
	}

	delete(key: string): boolean {
		const slot = this.#slots.get(key);
		if (!slot) return false;
		this.#slots.delete(key);
		this.#bytes -= slot.bytes;
		if (slot === this.#newest) this.#newest = undefined;
		return true;
	}

	clear(): void {
		this.#slots.clear();
		this.#bytes = 0;
		this.#newest = undefined;
	}
}
