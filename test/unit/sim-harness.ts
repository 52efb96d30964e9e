/** Shared fixture for the sim state-machine tests: a service on a manual clock that records publications. */
import { ManualClock } from '../../src/lib/clock';
import { JobsService } from '../../src/sim/service';
import type { CreateJobInput, Publication, SimOptions } from '../../src/sim/types';

export const T0 = Date.UTC(2026, 0, 1);
export const S0 = T0 / 1000;

export interface Sim {
  svc: JobsService;
  clock: ManualClock;
  out: Publication[];
  /** Publish `payload` (object → JSON, string/Buffer as is) on `$aws/things/{thing}/jobs/{suffix}`; returns what it caused. */
  mqtt: (suffix: string, payload?: unknown, o?: { thing?: string; client?: string }) => Publication[];
  /** Create a job; returns the publications it caused. */
  job: (jobId: string, extra?: Partial<CreateJobInput>) => Publication[];
  /** Run `fn` and return the publications it caused. */
  during: (fn: () => void) => Publication[];
}

export function makeSim(options: Partial<SimOptions> = {}, random?: () => number): Sim {
  const clock = new ManualClock(T0);
  const out: Publication[] = [];
  const svc = new JobsService({ clock, options, publish: (p) => out.push(p), ...(random ? { random } : {}) });
  const during = (fn: () => void): Publication[] => {
    const n = out.length;
    fn();
    return out.slice(n);
  };
  const mqtt: Sim['mqtt'] = (suffix, payload = {}, o = {}) => {
    const buf = Buffer.isBuffer(payload)
      ? payload
      : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
    return during(() => svc.handleMqtt(o.client ?? 'c1', `$aws/things/${o.thing ?? 't1'}/jobs/${suffix}`, buf));
  };
  const job: Sim['job'] = (jobId, extra = {}) =>
    during(() => {
      const r = svc.createJob({ jobId, targets: ['t1'], document: JSON.stringify({ op: jobId }), ...extra });
      if (!r.ok) throw new Error(`createJob ${jobId}: ${r.error.message}`);
    });
  return { svc, clock, out, mqtt, job, during };
}

/** Payload of the single publication whose topic ends with `suffix` (throws otherwise). */
export function only(pubs: Publication[], suffix: string): Record<string, any> {
  const hits = pubs.filter((p) => p.topic.endsWith(suffix));
  if (hits.length !== 1) throw new Error(`expected one publication on *${suffix}, got ${JSON.stringify(pubs.map((p) => p.topic))}`);
  return hits[0]!.payload as Record<string, any>;
}

export function topicsOf(pubs: Publication[]): string[] {
  return pubs.map((p) => p.topic.replace(/^\$aws\/things\/[^/]+\/jobs\//, ''));
}
