/**
 * `${artifact:NAME}` in a signed `doc` (docs/SIGNING.md): the agent replaces it with the local path of
 * the verified download, never with a URL, so a handler only ever reads bytes whose SHA-256 was
 * checked. Only string values are rewritten (anywhere inside them); object keys are left alone.
 */
import type { JobPayload } from './payload';
import type { JsonObject } from './shape';
import { quote } from './shape';
import type { JsonValue } from './strict-json';

const REF = /\$\{artifact:([^}]*)\}/g;

function mapStrings(v: JsonValue, f: (s: string) => string): JsonValue {
  if (typeof v === 'string') return f(v);
  if (Array.isArray(v)) return v.map((x) => mapStrings(x, f));
  if (v !== null && typeof v === 'object') {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) out[k] = mapStrings(x, f);
    return out;
  }
  return v;
}

/** The artifact names `doc` refers to, in order of first appearance. */
export function artifactRefs(doc: JsonObject): string[] {
  const seen = new Set<string>();
  mapStrings(doc, (s) => {
    for (const m of s.matchAll(REF)) seen.add(m[1] ?? '');
    return s;
  });
  return [...seen];
}

/** Why the doc's references do not fit the signed artifacts, or undefined. */
export function artifactRefProblem(p: Pick<JobPayload, 'doc' | 'artifacts'>): string | undefined {
  const known = p.artifacts ?? {};
  const missing = artifactRefs(p.doc).filter((n) => !Object.hasOwn(known, n));
  if (missing.length === 0) return undefined;
  return `doc refers to \${artifact:${quote(missing[0] ?? '')}}, which is not a signed artifact`;
}

/** `doc` with every `${artifact:NAME}` replaced by `paths[NAME]` (every name must be there). */
export function substituteArtifacts(doc: JsonObject, paths: Readonly<Record<string, string>>): JsonObject {
  return mapStrings(doc, (s) =>
    s.replace(REF, (_m, name: string) => {
      if (!Object.hasOwn(paths, name)) throw new Error(`no local path for artifact ${quote(name)}`);
      return paths[name]!;
    }),
  ) as JsonObject;
}
