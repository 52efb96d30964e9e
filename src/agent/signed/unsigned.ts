/**
 * `trust.allowUnsigned` (docs/SIGNING.md, "Unsigned documents"): AWS managed templates cannot carry
 * a signature, so named harmless handlers may run unsigned, each at most once per
 * `minIntervalSeconds`. What a document would run is read from the document itself, every step of a
 * Device Client document included: one `runCommand` step, or a script that maps to `exec`, and the
 * whole document is refused — those run any command the document names.
 */
import { DEVICE_CLIENT_HANDLER } from '../../handlers/document';
import { managedMapping } from '../../handlers/managed';
import { NEVER_UNSIGNED } from '../../config/validate';

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

function stepHandler(step: unknown): string {
  const action = isRec(step) ? step.action : undefined;
  if (!isRec(action)) return 'runCommand'; // unreadable: treated as the worst it could be
  if (action.type === 'runCommand') return 'runCommand';
  const input = isRec(action.input) ? action.input : {};
  const h = typeof input.handler === 'string' ? input.handler : '';
  // A custom `path` picks a script directory; a managed script name there is still our built-in, but
  // a script of the operator's own is named by its file name.
  return managedMapping(h)?.builtin ?? `script:${h}`;
}

/** The handlers an unsigned document would run (`runCommand` for a command step). */
export function handlersOf(doc: unknown, selected: string): string[] {
  if (selected !== DEVICE_CLIENT_HANDLER || !isRec(doc)) return [selected];
  if (doc.steps === undefined && doc.version === undefined) {
    const op = typeof doc.operation === 'string' ? doc.operation : '';
    return [managedMapping(op)?.builtin ?? `script:${op}`];
  }
  const steps = Array.isArray(doc.steps) ? doc.steps : [undefined];
  const all = [...steps, ...(doc.finalStep === undefined || doc.finalStep === null ? [] : [doc.finalStep])];
  return [...new Set(all.map(stepHandler))];
}

export interface AllowRule {
  handler: string;
  minIntervalSeconds: number;
}

export type UnsignedDecision = { ok: true; handlers: string[] } | { ok: false; detail: string };

/**
 * Whether an unsigned document may run now. `lastRun` maps a handler to the effective time (s) of
 * its last unsigned run.
 */
export function decideUnsigned(handlers: string[], rules: readonly AllowRule[], lastRun: Readonly<Record<string, number>>, nowS: number): UnsignedDecision {
  if (rules.length === 0) return { ok: false, detail: 'the document is not signed' };
  for (const h of handlers) {
    if (NEVER_UNSIGNED.includes(h)) return { ok: false, detail: `the document is not signed and runs ${h}, which is never allowed unsigned` };
    const rule = rules.find((r) => r.handler === h);
    if (rule === undefined) return { ok: false, detail: `the document is not signed and ${h} is not in trust.allowUnsigned` };
    const last = lastRun[h];
    if (last !== undefined && nowS - last < rule.minIntervalSeconds) {
      return { ok: false, detail: `${h} ran unsigned ${nowS - last} s ago; trust.allowUnsigned allows it once per ${rule.minIntervalSeconds} s` };
    }
  }
  return { ok: true, handlers };
}
