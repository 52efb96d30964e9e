/**
 * (a) Latency: jobs created one at a time (the next only once the previous one's SUCCEEDED has been
 * accepted), from CreateJob in the service to the handler starting (the no-op handler stamps its
 * start) and to the service accepting SUCCEEDED.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NOOP_DOCUMENT, isConnectedLine, launchAgent } from '../support/agents';
import type { AgentKind } from '../support/agents';
import { SimObserver } from '../support/observe';
import { withStack } from '../support/stack';
import { quantile, wallMs } from '../support/stats';

export interface LatencyRun {
  jobs: number;
  handlerP50: number;
  handlerP99: number;
  succeededP50: number;
  succeededP99: number;
}

const WARMUP = 20;

async function startTimes(file: string): Promise<Map<string, number>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [jobId, at] = line.split(' ');
    if (jobId && at) m.set(jobId, Number(at));
  }
  return m;
}

export async function latencyRun(kind: AgentKind, jobs: number, tag: string): Promise<LatencyRun> {
  const thing = `lat-${kind}`;
  return withStack([thing], async (stack) => {
    const obs = new SimObserver(stack.sim.runtime.service);
    const dir = join(stack.dir, `agent-${kind}`);
    const startLog = join(stack.dir, `starts-${kind}.log`);
    const agent = await launchAgent({ stack, thing, kind, dir, startLog });
    try {
      await agent.waitForLog(isConnectedLine(kind));
      const created = new Map<string, number>();
      const succeeded = new Map<string, number>();
      for (let i = 0; i < WARMUP + jobs; i++) {
        const jobId = `${tag}-${i}`;
        const done = obs.waitFor((t) => t.jobId === jobId && t.to === 'SUCCEEDED', 30_000, `${jobId} SUCCEEDED`);
        const t0 = wallMs();
        const r = stack.sim.runtime.service.createJob({ jobId, targets: [thing], document: NOOP_DOCUMENT });
        if (!r.ok) throw new Error(`CreateJob ${jobId}: ${r.error.message}`);
        const t = await done;
        if (i >= WARMUP) {
          created.set(jobId, t0);
          succeeded.set(jobId, t.at - t0);
        }
      }
      const starts = await startTimes(startLog);
      const toHandler: number[] = [];
      for (const [jobId, t0] of created) {
        const s = starts.get(jobId);
        if (s !== undefined) toHandler.push(s - t0);
      }
      if (toHandler.length !== created.size) throw new Error(`handler start missing for ${created.size - toHandler.length} jobs`);
      const toSucceeded = [...succeeded.values()];
      return {
        jobs,
        handlerP50: quantile(toHandler, 0.5),
        handlerP99: quantile(toHandler, 0.99),
        succeededP50: quantile(toSucceeded, 0.5),
        succeededP99: quantile(toSucceeded, 0.99),
      };
    } finally {
      await agent.stop();
      obs.close();
    }
  });
}
