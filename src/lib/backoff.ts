/**
 * The one backoff helper: capped exponential growth with full jitter (AWS architecture blog,
 * "Exponential Backoff And Jitter"), honouring a server's retry-after, with an abortable sleep.
 * Used for reconnecting and for API retries alike, so a fleet never reconnects in lock-step.
 */
import { AbortedError } from './errors';

export interface BackoffOptions {
  /** First delay ceiling in ms. */
  baseMs: number;
  /** Largest delay ceiling in ms. */
  maxMs: number;
  /** Random source in [0,1); injectable for tests. */
  random?: () => number;
  /**
   * 'full' (default): uniform in [0, ceiling]. 'equal': uniform in [ceiling/2, ceiling], for waits that
   * must really grow (a take-over back-off: two clones must end up minutes apart, not by luck).
   */
  jitter?: 'full' | 'equal';
}

export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions) {}

  /** Delay before the next attempt: uniform in [0, min(max, base * 2^attempt)] (or its upper half, 'equal'). */
  next(retryAfterMs?: number): number {
    const ceiling = this.ceiling;
    this.attempt += 1;
    const floor = this.opts.jitter === 'equal' ? ceiling / 2 : 0;
    const jittered = Math.floor(floor + (this.opts.random ?? Math.random)() * (ceiling - floor));
    return retryAfterMs !== undefined ? Math.max(retryAfterMs, jittered) : jittered;
  }

  reset(): void {
    this.attempt = 0;
  }

  /** The ceiling of the next delay. */
  get ceiling(): number {
    return Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** Math.min(this.attempt, 30));
  }

  get attempts(): number {
    return this.attempt;
  }
}

/** Sleep that ends early (rejecting with AbortedError) when the signal fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortedError('sleep', signal.reason));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortedError('sleep', signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Run `fn` until it succeeds, `isRetryable(err)` says no, or `maxAttempts` is reached.
 * `retryAfterMs(err)` lets a caller honour a server's hint.
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  opts: BackoffOptions & {
    maxAttempts: number;
    isRetryable: (err: unknown) => boolean;
    retryAfterMs?: (err: unknown) => number | undefined;
    signal?: AbortSignal;
  },
): Promise<T> {
  const backoff = new Backoff(opts);
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= opts.maxAttempts || !opts.isRetryable(err)) throw err;
      await sleep(backoff.next(opts.retryAfterMs?.(err)), opts.signal);
    }
  }
}

/** Bound a promise by a timeout; the timer never keeps the process alive. */
export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
