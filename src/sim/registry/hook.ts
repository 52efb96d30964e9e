/**
 * The pre-provisioning hook (docs/PROVISIONING.md §3): AWS invokes a Lambda with a JSON payload
 * before RegisterThing and provisions only on `allowProvisioning: true`, within 5 seconds. The sim
 * calls a local HTTP URL (the template's `targetArn`) with the same payload and reads the same answer.
 */
export const HOOK_TIMEOUT_MS = 5_000;

export interface HookPayload {
  claimCertificateId: string;
  certificateId: string;
  certificatePem: string;
  templateArn: string;
  clientId: string;
  parameters: Record<string, string>;
}

export type HookVerdict = { allow: true; parameterOverrides: Record<string, string> } | { allow: false; reason: string };

export function isHookUrl(target: string): boolean {
  return /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(target);
}

export async function callHook(url: string, payload: HookPayload): Promise<HookVerdict> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload), signal: AbortSignal.timeout(HOOK_TIMEOUT_MS) });
  } catch (err) {
    const timedOut = (err as Error).name === 'TimeoutError';
    return { allow: false, reason: timedOut ? `the pre-provisioning hook did not answer within ${HOOK_TIMEOUT_MS / 1000} s` : `the pre-provisioning hook failed: ${(err as Error).message}` };
  }
  const text = await res.text();
  if (!res.ok) return { allow: false, reason: `the pre-provisioning hook answered HTTP ${res.status}` };
  let out: unknown;
  try {
    out = JSON.parse(text);
  } catch {
    return { allow: false, reason: 'the pre-provisioning hook answered something other than JSON' };
  }
  const o = (typeof out === 'object' && out !== null ? out : {}) as { allowProvisioning?: unknown; parameterOverrides?: unknown };
  if (o.allowProvisioning !== true) return { allow: false, reason: 'the pre-provisioning hook did not allow provisioning' };
  const overrides: Record<string, string> = {};
  if (typeof o.parameterOverrides === 'object' && o.parameterOverrides !== null) {
    for (const [k, v] of Object.entries(o.parameterOverrides)) if (typeof v === 'string') overrides[k] = v;
  }
  return { allow: true, parameterOverrides: overrides };
}
