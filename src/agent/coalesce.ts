/**
 * Coalesces triggers per key: while a run for a key is in flight, any number of further triggers
 * cause exactly one more run after it. A burst of notifications becomes one fetch, never a storm.
 */
export class Coalescer<K> {
  private readonly running = new Map<K, Promise<void>>();
  private readonly again = new Set<K>();

  constructor(private readonly fn: (key: K) => Promise<void>, private readonly onError: (key: K, err: unknown) => void) {}

  trigger(key: K): Promise<void> {
    const inFlight = this.running.get(key);
    if (inFlight) {
      this.again.add(key);
      return inFlight;
    }
    const p = this.loop(key).finally(() => this.running.delete(key));
    this.running.set(key, p);
    return p;
  }

  /** Resolves when nothing is running. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  private async loop(key: K): Promise<void> {
    do {
      this.again.delete(key);
      try {
        await this.fn(key);
      } catch (err) {
        this.onError(key, err);
      }
    } while (this.again.has(key));
  }
}
