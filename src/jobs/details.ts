/**
 * statusDetails sanitiser: the service refuses a whole update when one key or value breaks its
 * rules (docs/PROTOCOL.md §6.3, §7), so the agent cleans details before sending rather than losing the update.
 */
import { LIMITS } from './types';
import type { Details } from './types';

// Unicode "Other" (\p{C}): control, format, unassigned, private use, surrogates — all refused.
const OTHER = /\p{C}+/gu;

function cleanKey(k: string): string | undefined {
  const key = k.replace(/[^a-zA-Z0-9:_-]/g, '_').slice(0, 128);
  return key.length > 0 ? key : undefined;
}

function cleanValue(v: unknown): string {
  const s = typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
  const cleaned = s.replace(OTHER, ' ').trim();
  const chars = Array.from(cleaned);
  const clipped = chars.length > LIMITS.detailValueMax ? chars.slice(chars.length - LIMITS.detailValueMax) : chars;
  const out = clipped.join('');
  return out.length > 0 ? out : '-';
}

/**
 * Returns a map the service accepts: keys mapped into the allowed alphabet, values without control
 * characters and at most 1024 characters (the tail is kept — the end of an output says most), at most
 * `maxEntries` entries (first ones win).
 */
export function sanitizeDetails(details: Readonly<Record<string, unknown>> | undefined, maxEntries: number = LIMITS.detailEntriesMax): Details | undefined {
  if (!details) return undefined;
  const out: Details = {};
  let n = 0;
  for (const [k, v] of Object.entries(details)) {
    if (n >= maxEntries) break;
    const key = cleanKey(k);
    if (key === undefined || key in out) continue;
    out[key] = cleanValue(v);
    n += 1;
  }
  return out;
}

/** True when the service would accept `details` as is. */
export function detailsValid(details: unknown, maxEntries: number = LIMITS.detailEntriesMax): boolean {
  if (typeof details !== 'object' || details === null || Array.isArray(details)) return false;
  const entries = Object.entries(details as Record<string, unknown>);
  if (entries.length > maxEntries) return false;
  return entries.every(
    ([k, v]) =>
      LIMITS.detailKey.test(k) &&
      typeof v === 'string' &&
      v.length > 0 &&
      Array.from(v).length <= LIMITS.detailValueMax &&
      !/\p{C}/u.test(v),
  );
}
