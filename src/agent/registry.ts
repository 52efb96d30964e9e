/** How the agent finds the handler for a job document (docs/ARCHITECTURE.md §4, §6). */
import type { JobHandler } from '../handlers/api';

export type Resolution = { ok: true; handler: JobHandler; document: unknown } | { ok: false; reason: string };

export interface HandlerRegistry {
  /** The handler for a document: by `operation`, or the Device Client schema handler for `steps` documents. */
  resolve(document: unknown): Resolution;
  byName(name: string): JobHandler | undefined;
  names(): string[];
}

export type Chooser = (doc: unknown, handlers: ReadonlyMap<string, JobHandler<never>>) => { handler: string } | { reject: string };

/** Plain `{operation: NAME}` lookup, for when no richer chooser is given. */
export const chooseByOperation: Chooser = (doc, handlers) => {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { reject: 'job document must be a JSON object' };
  const op = (doc as { operation?: unknown }).operation;
  if (typeof op !== 'string' || op.length === 0) return { reject: 'job document names no operation' };
  return handlers.has(op) ? { handler: op } : { reject: `no handler for operation ${JSON.stringify(op).slice(0, 140)}` };
};

export function mapRegistry(handlers: ReadonlyMap<string, JobHandler>, choose: Chooser = chooseByOperation): HandlerRegistry {
  return {
    resolve(document: unknown): Resolution {
      const c = choose(document, handlers as ReadonlyMap<string, JobHandler<never>>);
      if ('reject' in c) return { ok: false, reason: c.reject };
      const handler = handlers.get(c.handler);
      return handler ? { ok: true, handler, document } : { ok: false, reason: `no handler named ${c.handler}` };
    },
    byName: (name) => handlers.get(name),
    names: () => [...handlers.keys()],
  };
}
