/**
 * A set that remembers only the most recent `limit` keys. For dedupe of finished work in a process
 * that runs for months: what it forgot is old enough that the service no longer lists it, and the
 * journal still answers for its own recent history, so forgetting costs a lookup, not a rerun.
 */
export class RecentSet<K> {
  // A Set iterates in insertion order, so its first key is always the oldest.
  private readonly keys = new Set<K>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`RecentSet limit must be a positive integer, got ${limit}`);
  }

  get size(): number {
    return this.keys.size;
  }

  has(key: K): boolean {
    return this.keys.has(key);
  }

  /** Adds `key` as the most recent (moving it there if known); forgets the oldest beyond the limit. */
  add(key: K): this {
    this.keys.delete(key);
    this.keys.add(key);
    if (this.keys.size > this.limit) {
      const oldest = this.keys.values().next();
      if (!oldest.done) this.keys.delete(oldest.value);
    }
    return this;
  }

  delete(key: K): boolean {
    return this.keys.delete(key);
  }
}

/** A map that remembers only the most recent `limit` keys, as RecentSet does, each with a value. */
export class RecentMap<K, V> {
  // A Map iterates in insertion order, so its first key is always the oldest.
  private readonly entries = new Map<K, V>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`RecentMap limit must be a positive integer, got ${limit}`);
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  get(key: K): V | undefined {
    return this.entries.get(key);
  }

  /** Sets `key` as the most recent (moving it there if known); forgets the oldest beyond the limit. */
  set(key: K, value: V): this {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.limit) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    return this;
  }

  delete(key: K): boolean {
    return this.entries.delete(key);
  }
}
