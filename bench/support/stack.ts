/**
 * One benchmark stack: the same PKI, mosquitto (mTLS, TCP_NODELAY) and Jobs service as the tests
 * (test/support/stack.ts, compiled into dist/ for the bench). Each measurement that could be skewed by
 * an earlier one's leftovers (10,000 finished jobs in the service's world) gets a fresh stack.
 */
import { startStack as startTestStack } from '../../test/support/stack';
import type { Stack } from '../../test/support/stack';

export type { Stack };

export function startStack(things: string[]): Promise<Stack> {
  return startTestStack({ things });
}

/** Runs `fn` on a fresh stack and always tears it down. */
export async function withStack<T>(things: string[], fn: (s: Stack) => Promise<T>): Promise<T> {
  const stack = await startStack(things);
  try {
    return await fn(stack);
  } finally {
    await stack.close();
  }
}
