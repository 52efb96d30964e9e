/** What an AWS SDK v3 call's failure says, for asserting exception names the way SDK users see them. */
export interface SdkFailure {
  name: string;
  status: number | undefined;
  requestId: string | undefined;
  message: string;
}

/** Resolves with the failure of `p`; throws when `p` succeeds. */
export async function sdkError(p: Promise<unknown>): Promise<SdkFailure> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number; requestId?: string } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, requestId: e.$metadata?.requestId, message: e.message };
  }
  throw new Error('expected the call to fail');
}
