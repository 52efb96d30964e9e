/**
 * Watches the local Jobs service from inside: wraps the request entry points of the running service
 * instance (MQTT and HTTPS data plane) to timestamp each device request as it arrives, and each
 * device-made status transition as the service accepts it. Publications an outlet sees would not
 * show requests, and the history's own timestamps have only millisecond resolution.
 */
import type { JobsService } from '../../src/sim/service';
import { wallMs } from './stats';

export interface Transition {
  thing: string;
  jobId: string;
  to: string;
  at: number;
}

type Wrapped = 'handleMqtt' | 'httpGetPending' | 'httpDescribe' | 'httpStartNext' | 'httpUpdate';
const WRAPPED: Wrapped[] = ['handleMqtt', 'httpGetPending', 'httpDescribe', 'httpStartNext', 'httpUpdate'];

/** A request's kind without its job id: "MQTT j-1/update" → "MQTT update", "MQTT j-1/get" → "MQTT describe". */
export function requestKind(what: string): string {
  const m = /^MQTT (.+)\/(get|update)$/.exec(what);
  if (!m) return what;
  return m[2] === 'get' ? 'MQTT describe' : 'MQTT update';
}

export class SimObserver {
  /** First device request per thing: when it arrived and what it was. */
  readonly firstRequest = new Map<string, { at: number; what: string }>();
  /** Device requests per thing, by kind ("MQTT get", "MQTT <jobId>/update", …: see requestKind). */
  readonly requests = new Map<string, Map<string, number>>();
  private seen: number;
  private readonly listeners = new Set<(t: Transition) => void>();
  private readonly restore: (() => void)[] = [];

  constructor(private readonly service: JobsService) {
    this.seen = service.history().length;
    const target = service as unknown as Record<Wrapped, (...args: unknown[]) => unknown>;
    for (const name of WRAPPED) {
      const original = target[name];
      target[name] = (...args: unknown[]): unknown => {
        const at = wallMs();
        this.noteRequest(name, args, at);
        const r = original.apply(service, args);
        this.scan();
        return r;
      };
      this.restore.push(() => {
        delete (target as Partial<Record<Wrapped, unknown>>)[name];
      });
    }
  }

  private noteRequest(name: Wrapped, args: unknown[], at: number): void {
    let thing: string | undefined;
    let what: string = name;
    if (name === 'handleMqtt') {
      const topic = String(args[1]);
      const m = /^\$aws\/things\/([^/]+)\/jobs\/(.*)$/.exec(topic);
      if (!m) return;
      thing = m[1];
      what = `MQTT ${m[2] ?? ''}`;
    } else {
      thing = String(args[0]);
      what = `HTTPS ${name}`;
    }
    if (thing === undefined) return;
    if (!this.firstRequest.has(thing)) this.firstRequest.set(thing, { at, what });
    const counts = this.requests.get(thing) ?? new Map<string, number>();
    const k = requestKind(what);
    counts.set(k, (counts.get(k) ?? 0) + 1);
    this.requests.set(thing, counts);
  }

  /** Requests seen from `thing` so far, by kind. */
  requestCounts(thing: string): Record<string, number> {
    return Object.fromEntries(this.requests.get(thing) ?? []);
  }

  /** New device transitions since the last look, stamped now (they happened during this call). */
  private scan(): void {
    const h = this.service.history();
    const at = wallMs();
    for (; this.seen < h.length; this.seen++) {
      const e = h[this.seen];
      if (!e || e.by !== 'device' || e.from === e.to) continue;
      const t: Transition = { thing: e.thing, jobId: e.jobId, to: e.to, at };
      for (const l of this.listeners) l(t);
    }
  }

  /** Calls `fn` for every device transition from now on; returns an unsubscribe. */
  onTransition(fn: (t: Transition) => void): () => void {
    this.scan();
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Resolves with the first future transition matching `pred`. */
  waitFor(pred: (t: Transition) => boolean, timeoutMs = 30_000, what = 'a transition'): Promise<Transition> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const off = this.onTransition((t) => {
        if (!pred(t)) return;
        clearTimeout(timer);
        off();
        resolve(t);
      });
    });
  }

  close(): void {
    for (const r of this.restore) r();
    this.listeners.clear();
  }
}
