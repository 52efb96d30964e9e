/**
 * (f) Memory levels off: the release executable runs no-op jobs created in batches (each batch
 * created once the previous one is SUCCEEDED), with its resident memory read idle after 500, 1,500
 * and 2,500 jobs; then the broker is restarted again and again, and memory is read after the
 * reconnects.
 *
 * The agent's reconnect backoff resets only after a connection that lived 30 s (a flapping broker
 * must not be hammered), so 50 honest reconnects take 50 × 30 s at real speed. The agent therefore
 * runs under libfaketime at ×10 (its monotonic clock, timers and keep-alives run ten times fast):
 * each connection is held for 31 s of the agent's time before the broker restarts, and the backoff
 * starts over as it would on a device. Memory does not depend on the clock's speed. Without
 * libfaketime the agent runs at real speed and the reconnects stop at the time budget.
 */
import { join } from 'node:path';
import { NOOP_DOCUMENT, isConnectedLine, launchAgent } from '../support/agents';
import type { MemorySample } from '../support/memory';
import { sampleMemory } from '../support/memory';
import { SimObserver } from '../support/observe';
import { withStack } from '../support/stack';
import { libfaketime } from '../../test/support/device-faults';

export interface SoakRun {
  /** Memory after each checkpoint's job count, read once the agent is idle again. */
  afterJobs: { jobs: number; memory: MemorySample }[];
  reconnects: number;
  afterReconnects: MemorySample;
  /** How fast the agent's clock ran (1 = real time; 10 under libfaketime). */
  clockSpeed: number;
}

const SETTLE_MS = 2_000;
const BATCH = 100;

/** How fast the agent's clocks run under libfaketime. */
const CLOCK_SPEED = 10;
/** One more second than the agent's 30 s that make a connection stable and reset its backoff. */
const HOLD_AGENT_MS = 31_000;

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const settle = (): Promise<void> => wait(SETTLE_MS);

/** libfaketime's environment for a ×CLOCK_SPEED clock, or undefined (real speed) where it is not installed. */
function fastClock(): { env: NodeJS.ProcessEnv; speed: number } | undefined {
  try {
    return { env: { LD_PRELOAD: libfaketime(), FAKETIME: `+0 x${CLOCK_SPEED}` }, speed: CLOCK_SPEED };
  } catch {
    return undefined;
  }
}

export async function soakRun(checkpoints: number[], reconnects: number, reconnectBudgetMs: number): Promise<SoakRun> {
  const thing = 'soak-release';
  return withStack([thing], async (stack) => {
    const service = stack.sim.runtime.service;
    const obs = new SimObserver(service);
    let succeeded = 0;
    let waiter: { n: number; resolve: () => void } | undefined;
    obs.onTransition((t) => {
      if (t.to !== 'SUCCEEDED') return;
      succeeded++;
      if (waiter && succeeded >= waiter.n) waiter.resolve();
    });
    const reached = (n: number): Promise<void> =>
      succeeded >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiter = { n, resolve }));
    const clock = fastClock();
    const speed = clock?.speed ?? 1;
    const agent = await launchAgent({ stack, thing, kind: 'release', dir: join(stack.dir, 'agent-soak'), ...(clock ? { env: clock.env } : {}) });
    try {
      await agent.waitForLog(isConnectedLine('release'));
      const afterJobs: SoakRun['afterJobs'] = [];
      let created = 0;
      for (const target of checkpoints) {
        while (created < target) {
          const n = Math.min(BATCH, target - created);
          for (let i = 0; i < n; i++) {
            const r = service.createJob({ jobId: `soak-${created + i}`, targets: [thing], document: NOOP_DOCUMENT });
            if (!r.ok) throw new Error(`CreateJob soak-${created + i}: ${r.error.message}`);
          }
          created += n;
          await Promise.race([reached(created), agent.exited.then(() => Promise.reject(new Error(`agent exited:\n${agent.tail.join('\n')}`)))]);
        }
        await settle();
        afterJobs.push({ jobs: target, memory: sampleMemory(agent.pid) });
      }
      const until = Date.now() + reconnectBudgetMs;
      let done = 0;
      while (done < reconnects && Date.now() < until) {
        // A bench, not a test: holding the connection for a stable period is the point, so a timer is right here.
        await wait(HOLD_AGENT_MS / speed);
        const back = agent.waitForLog(isConnectedLine('release'), Math.max(1_000, until - Date.now() + 60_000));
        await stack.broker.restart();
        await back;
        done++;
      }
      await settle();
      return { afterJobs, reconnects: done, afterReconnects: sampleMemory(agent.pid), clockSpeed: speed };
    } finally {
      await agent.stop();
      obs.close();
    }
  });
}
