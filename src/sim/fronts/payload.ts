/**
 * What goes on the wire for a publication: JSON, or CBOR for the provisioning API's `…/cbor`
 * topics (a map with text-string keys, as AWS's embedded SDK expects); and MQTT filter matching.
 */
import { encodeCanonical } from 'cbor';
import type { Publication } from '../types';

export function encodePublication(p: Publication): Buffer {
  return p.format === 'cbor' ? encodeCanonical(p.payload) : Buffer.from(JSON.stringify(p.payload));
}

/** Whether an MQTT topic filter (`+`, `#`) matches a topic. */
export function filterMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}
