/**
 * Connect until up or stopped, with the one backoff helper; `wake()` cuts the current wait short
 * (the wall clock stepped, so a certificate that was not valid yet may be valid now).
 */
import { Backoff, sleep } from '../lib/backoff';

export class ConnectLoop {
  private wakeCtl = new AbortController();

  constructor(
    private readonly o: {
      connect(): Promise<void>;
      onUp(): void;
      onFailure(err: unknown, retryInMs: number): void;
      signal: AbortSignal;
    },
  ) {}

  async run(): Promise<void> {
    const backoff = new Backoff({ baseMs: 500, maxMs: 60_000 });
    while (!this.o.signal.aborted) {
      try {
        await this.o.connect();
        this.o.onUp();
        return;
      } catch (err) {
        // A refused proxy login carries a floor of minutes (proxies lock accounts).
        const delay = backoff.next((err as { retryAfterMs?: number } | undefined)?.retryAfterMs);
        this.o.onFailure(err, delay);
        this.wakeCtl = new AbortController();
        await sleep(delay, AbortSignal.any([this.o.signal, this.wakeCtl.signal])).catch(() => undefined);
      }
    }
  }

  wake(): void {
    this.wakeCtl.abort();
  }
}
