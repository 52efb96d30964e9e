/**
 * Runs the pure JobsService in real time: owns its clock (optionally sped up, so a rehearsal of a
 * 1-minute step timeout takes a second, and movable forward on request: `advanceClock`), fires its
 * timers, and routes every publication it makes to the MQTT fronts after applying the per-thing
 * delivery faults (response delay, dropped response).
 */
import { systemClock } from '../lib/clock';
import type { Clock } from '../lib/clock';
import type { Logger } from '../lib/log';
import { SimClock } from './clock';
import type { ClockControl } from './clock';
import { JobsService } from './service';
import type { Publication, Refusal, SimOptions } from './types';

export interface Outlet {
  deliver(p: Publication): void;
}

export interface RuntimeOptions {
  options?: Partial<SimOptions>;
  /** Simulated seconds per real second (default 1). */
  timeScale?: number;
  random?: () => number;
  /** How often timers are checked, real ms (default 200). */
  tickMs?: number;
  clock?: Clock;
  /** Where refused device requests are logged (info). */
  log?: Logger;
}

/** A clock running `scale` times faster than wall time from the moment it is made. */
export function scaledClock(scale: number, base: Clock = systemClock): Clock {
  if (scale === 1) return base;
  const t0 = base.now();
  return { now: () => t0 + Math.floor((base.now() - t0) * scale) };
}

export class SimRuntime implements ClockControl {
  readonly service: JobsService;
  readonly clock: SimClock;
  private readonly outlets = new Set<Outlet>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly ticker: NodeJS.Timeout;
  private readonly random: () => number;

  constructor(o: RuntimeOptions = {}) {
    this.clock = new SimClock(o.clock ?? scaledClock(o.timeScale ?? 1));
    this.random = o.random ?? Math.random;
    const log = o.log;
    const init = {
      clock: this.clock,
      publish: (p: Publication) => this.route(p),
      random: this.random,
      // The thing, the request and the reason, so a user can see why a device's jobs do not move.
      onRefusal: (r: Refusal) =>
        log?.info({ thing: r.thing, request: r.request, clientId: r.clientId, clientToken: r.clientToken, code: r.code, reason: r.message }, 'request refused'),
    };
    this.service = new JobsService(o.options ? { ...init, options: o.options } : init);
    this.ticker = setInterval(() => this.service.tick(), o.tickMs ?? 200);
    this.ticker.unref();
  }

  now(): number {
    return this.clock.now();
  }

  offsetMs(): number {
    return this.clock.offsetMs;
  }

  /** Moves the service's clock forward and applies, in order, everything that fell due on the way. */
  advance(ms: number): void {
    this.clock.advance(ms);
    this.service.tick();
  }

  /** A publication from outside the Jobs state machine (the provisioning API), routed like its own. */
  publish(p: Publication): void {
    this.route(p);
  }

  addOutlet(outlet: Outlet): () => void {
    this.outlets.add(outlet);
    return () => this.outlets.delete(outlet);
  }

  close(): void {
    clearInterval(this.ticker);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.outlets.clear();
  }

  private route(p: Publication): void {
    const faults = this.service.faultsFor(p.thing);
    if (p.kind === 'response' && faults.dropResponse !== undefined && this.random() < faults.dropResponse) return;
    const delay = p.kind === 'response' ? (faults.responseDelayMs ?? 0) : 0;
    if (delay <= 0) {
      this.fanOut(p);
      return;
    }
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.fanOut(p);
    }, delay);
    this.timers.add(t);
  }

  private fanOut(p: Publication): void {
    for (const o of this.outlets) o.deliver(p);
  }
}
