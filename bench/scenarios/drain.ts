/**
 * (b) Backlog drain: N jobs queued before the agent starts, no-op handler, until the service has
 * accepted SUCCEEDED for all of them. Also (c) the agent's memory while draining.
 */
import { join } from 'node:path';
import { NOOP_DOCUMENT, launchAgent } from '../support/agents';
import type { AgentKind } from '../support/agents';
import { SimObserver } from '../support/observe';
import { sampleProc, sampler } from '../support/proc';
import type { ProcSample } from '../support/proc';
import { withStack } from '../support/stack';
import { quantile } from '../support/stats';

export interface DrainRun {
  queued: number;
  done: number;
  /** False when the run hit its time limit; the figures then describe the part that finished. */
  complete: boolean;
  jobsPerSecond: number;
  /** Wall time per job, ms. */
  msPerJob: number;
  /** The agent process's CPU time (user+system) per job, ms. */
  cpuMsPerJob: number;
  peakRssMb: number;
  medianRssMb: number;
  /** Spawn → first job IN_PROGRESS, ms. */
  firstJobMs: number;
  /** Device requests the service received over the whole run, per job finished, and by kind. */
  requestsPerJob: number;
  requests: Record<string, number>;
}

export async function drainRun(kind: AgentKind, queued: number, limitMs: number): Promise<DrainRun> {
  const thing = `drain-${kind}`;
  return withStack([thing], async (stack) => {
    const service = stack.sim.runtime.service;
    for (let i = 0; i < queued; i++) {
      const r = service.createJob({ jobId: `d-${i}`, targets: [thing], document: NOOP_DOCUMENT });
      if (!r.ok) throw new Error(`CreateJob d-${i}: ${r.error.message}`);
    }
    const obs = new SimObserver(service);
    let first: { at: number; cpu: ProcSample } | undefined;
    let last = 0;
    let done = 0;
    let finish: () => void = () => undefined;
    const all = new Promise<void>((resolve) => (finish = resolve));
    const agent = await launchAgent({ stack, thing, kind, dir: join(stack.dir, `agent-${kind}`) });
    const pid = agent.pid;
    obs.onTransition((t) => {
      if (t.to === 'IN_PROGRESS' && first === undefined) first = { at: t.at, cpu: sampleProc(pid) };
      if (t.to !== 'SUCCEEDED') return;
      done++;
      last = t.at;
      if (done >= queued) finish();
    });
    const mem = sampler(pid, 200);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, limitMs)));
    try {
      await Promise.race([all, timedOut, agent.exited]);
      const end = sampleProc(pid);
      const samples = mem.stop();
      const start = first;
      if (!start || done === 0) throw new Error(`${kind} finished no job; last lines:\n${agent.tail.join('\n')}`);
      const wall = last - start.at;
      const rss = samples.map((s) => s.rssKb / 1024);
      const requests = obs.requestCounts(thing);
      const total = Object.values(requests).reduce((a, b) => a + b, 0);
      return {
        queued,
        done,
        complete: done >= queued,
        jobsPerSecond: (done * 1000) / wall,
        msPerJob: wall / done,
        cpuMsPerJob: (end.cpuMs - start.cpu.cpuMs) / done,
        peakRssMb: Math.max(...rss),
        medianRssMb: quantile(rss, 0.5),
        firstJobMs: start.at - agent.spawnedAt,
        requestsPerJob: total / done,
        requests,
      };
    } finally {
      clearTimeout(timer);
      mem.stop();
      await agent.stop();
      obs.close();
    }
  });
}
