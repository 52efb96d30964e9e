/**
 * A verdict as Jobs statusDetails (docs/SIGNING.md): `ija:reason`, `ija:detail`, `ija:kids`,
 * `ija:trustVersion`, plus the caller's extras (`ija:clock`, `ija:agentVersion`, `ija:jti`).
 * AWS allows at most 10 pairs, values up to 1024 characters and no control characters.
 */
import type { Verdict } from './verify';

const VALUE_MAX = 1024;

function clean(v: string): string {
  const s = v.replace(/\p{C}+/gu, ' ').trim();
  const chars = Array.from(s);
  return chars.length > VALUE_MAX ? `${chars.slice(0, VALUE_MAX - 1).join('')}…` : s;
}

export function verdictDetails(v: Verdict, extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  if (!v.ok) {
    out['ija:reason'] = v.reason;
    out['ija:detail'] = clean(v.detail);
  }
  out['ija:kids'] = clean(v.kids.join(','));
  out['ija:trustVersion'] = String(v.trustVersion);
  // The jti only of an authentic envelope: an attacker's document must not choose what is echoed.
  const payload = v.ok ? v.payload : v.payload;
  if (payload) out['ija:jti'] = payload.jti;
  for (const [k, val] of Object.entries(extra)) {
    if (Object.keys(out).length >= 10) break;
    if (/^[a-zA-Z0-9:_-]{1,128}$/.test(k)) out[k] = clean(val);
  }
  return out;
}
