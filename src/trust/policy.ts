/**
 * Does a set of verified kids satisfy an op's policy? Each kid fills at most one required slot,
 * even when it holds several roles: `{ci: 1, approver: 1}` needs two different keys.
 */
import type { Reason } from './reasons';
import type { Policy } from './store';

export type PolicyResult = { ok: true } | { ok: false; reason: Reason; detail: string };

export function checkPolicy(op: string, policy: Policy | undefined, kids: readonly string[], rolesOf: ReadonlyMap<string, ReadonlySet<string>>): PolicyResult {
  if (!policy) return { ok: false, reason: 'role-not-permitted', detail: `the trust store has no policy for op ${JSON.stringify(op)}` };
  const required = Object.entries(policy.require);
  const holders = kids.filter((k) => required.some(([role]) => rolesOf.get(k)?.has(role)));
  if (holders.length === 0) {
    return { ok: false, reason: 'role-not-permitted', detail: `op ${JSON.stringify(op)} needs ${describe(policy)}; no signer holds any of those roles` };
  }
  const slots = required.flatMap(([role, n]) => Array.from({ length: n }, () => role));
  const filled = maxMatching(slots, holders, rolesOf);
  if (filled < slots.length) {
    return { ok: false, reason: 'threshold-not-met', detail: `op ${JSON.stringify(op)} needs ${describe(policy)}; the signatures fill ${filled} of ${slots.length}` };
  }
  return { ok: true };
}

function describe(p: Policy): string {
  return Object.entries(p.require)
    .map(([role, n]) => `${n} ${role}`)
    .join(' + ');
}

/** Bipartite matching of role slots to kids (augmenting paths; a handful of keys at most). */
function maxMatching(slots: readonly string[], kids: readonly string[], rolesOf: ReadonlyMap<string, ReadonlySet<string>>): number {
  const slotOfKid = new Map<string, number>();
  const kidOfSlot = new Map<number, string>();
  const tryAssign = (slot: number, seen: Set<string>): boolean => {
    for (const kid of kids) {
      if (seen.has(kid) || !rolesOf.get(kid)?.has(slots[slot]!)) continue;
      seen.add(kid);
      const other = slotOfKid.get(kid);
      if (other === undefined || tryAssign(other, seen)) {
        slotOfKid.set(kid, slot);
        kidOfSlot.set(slot, kid);
        return true;
      }
    }
    return false;
  };
  let n = 0;
  for (let i = 0; i < slots.length; i++) if (tryAssign(i, new Set())) n++;
  return n;
}
