/**
 * (f) Memory levels off: the release executable runs no-op jobs created in batches (each batch
 * created once the previous one is SUCCEEDED), with its resident memory read idle after 500, 1,500
 * and 2,500 jobs; then the broker is restarted again and again, each time after the agent is back,
 * and memory is read after the reconnects. The agent's reconnect backoff only resets after a
 * connection that lived 30 s, so the reconnects have a time budget; the count done is recorded.
 */
import { join } from 'node:path';
import { NOOP_DOCUMENT, isConnectedLine, launchAgent } from '../support/agents';
import type { MemorySample } from '../support/memory';
import { sampleMemory } from '../support/memory';
import { SimObserver } from '../support/observe';
import { withStack } from '../support/stack';

export interface SoakRun {
  /** Memory after each checkpoint's job count, read once the agent is idle again. */
  afterJobs: { jobs: number; memory: MemorySample }[];
  reconnects: number;
  afterReconnects: MemorySample;
}

const SETTLE_MS = 2_000;
const BATCH = 100;

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, SETTLE_MS));

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
    const agent = await launchAgent({ stack, thing, kind: 'release', dir: join(stack.dir, 'agent-soak') });
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
        const back = agent.waitForLog(isConnectedLine('release'), Math.max(1_000, until - Date.now() + 60_000));
        await stack.broker.restart();
        await back;
        done++;
      }
      await settle();
      return { afterJobs, reconnects: done, afterReconnects: sampleMemory(agent.pid) };
    } finally {
      await agent.stop();
      obs.close();
    }
  });
}
