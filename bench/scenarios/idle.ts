/**
 * (c) Idle cost: each agent connected with nothing to do. Several copies of each kind (and the floor
 * client: a raw mTLS MQTT client on the release executable's own Node runtime, scenarios/floor.ts)
 * idle side by side, so one 60 s window yields repeated samples: resident memory at the end
 * and CPU time used over the window.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isConnectedLine, launchAgent } from '../support/agents';
import type { AgentKind } from '../support/agents';
import type { MemorySample } from '../support/memory';
import { sampleMemory } from '../support/memory';
import type { Proc } from '../support/proc';
import { sampleProc } from '../support/proc';
import { withStack } from '../support/stack';
import { startRawFloorClient } from './floor';

export interface IdleSample {
  kind: AgentKind | 'floor';
  rssMb: number;
  /** RSS split into anonymous and file-backed, and PSS (smaps_rollup) at the end of the window. */
  memory: MemorySample;
  /** CPU time over the window / window length, percent of one core. */
  cpuPercent: number;
}

const SETTLE_MS = 2_000;

export async function idleRuns(copies: number, windowMs: number): Promise<IdleSample[]> {
  const kinds: (AgentKind | 'floor')[] = ['ours', 'ours-crt', 'release', 'baseline', 'floor'];
  const plan = kinds.flatMap((kind) => Array.from({ length: copies }, (_, i) => ({ kind, thing: `idle-${kind}-${i}` })));
  return withStack(plan.map((p) => p.thing), async (stack) => {
    const procs: { kind: AgentKind | 'floor'; proc: Proc }[] = [];
    // Each wait starts at its launch: a process may connect while the next ones are being launched.
    const connected: Promise<unknown>[] = [];
    try {
      for (const p of plan) {
        const dir = join(stack.dir, p.thing);
        const proc =
          p.kind === 'floor'
            ? await mkdir(dir, { recursive: true }).then(() => startRawFloorClient(stack, p.thing, dir))
            : await launchAgent({ stack, thing: p.thing, kind: p.kind, dir });
        procs.push({ kind: p.kind, proc });
        connected.push(proc.waitForLog(p.kind === 'floor' ? (l) => l.msg === 'connected' : isConnectedLine(p.kind), 60_000));
      }
      await Promise.all(connected);
      // Start-up work (imports, JIT, the first fetch) is not idle cost: let it finish first.
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      const before = procs.map(({ proc }) => sampleProc(proc.pid));
      await new Promise((r) => setTimeout(r, windowMs));
      return procs.map(({ kind, proc }, i) => {
        const a = before[i];
        const b = sampleProc(proc.pid);
        if (!a) throw new Error('missing sample');
        return { kind, rssMb: b.rssKb / 1024, memory: sampleMemory(proc.pid), cpuPercent: ((b.cpuMs - a.cpuMs) / (b.at - a.at)) * 100 };
      });
    } finally {
      await Promise.all(procs.map(({ proc }) => proc.stop()));
    }
  });
}
