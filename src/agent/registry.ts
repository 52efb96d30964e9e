/** How the agent finds the handler for a job document (DESIGN §4, §6). */
import type { JobHandler } from '../handlers/api';

export type Resolution = { ok: true; handler: JobHandler; document: unknown } | { ok: false; reason: string };

export interface HandlerRegistry {
  /** The handler for a document: by `operation`, or the Device Client schema handler for `steps` documents. */
  resolve(document: unknown): Resolution;
  byName(name: string): JobHandler | undefined;
  names(): string[];
}

/** Resolves `{operation: NAME}` documents by name, and `{version, steps}` / legacy Device Client forms through `fallback`. */
export function mapRegistry(handlers: ReadonlyMap<string, JobHandler>, fallback?: (doc: Record<string, unknown>) => Resolution | undefined): HandlerRegistry {
  return {
    resolve(document: unknown): Resolution {
      if (typeof document !== 'object' || document === null || Array.isArray(document)) {
        return { ok: false, reason: 'job document must be a JSON object' };
      }
      const doc = document as Record<string, unknown>;
      const viaFallback = fallback?.(doc);
      if (viaFallback) return viaFallback;
      if (typeof doc.operation !== 'string' || doc.operation.length === 0) {
        return { ok: false, reason: 'job document names no operation (expected "operation" or Device Client "steps")' };
      }
      const handler = handlers.get(doc.operation);
      return handler ? { ok: true, handler, document: doc } : { ok: false, reason: `no handler for operation ${JSON.stringify(doc.operation).slice(0, 140)}` };
    },
    byName: (name) => handlers.get(name),
    names: () => [...handlers.keys()],
  };
}
