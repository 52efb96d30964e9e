/**
 * `npm run bench`: every benchmark against the local Jobs service through a real mosquitto on
 * loopback, for our agent and, in the same run, the SDK-sample-style BASELINE agent and the
 * hardware limit. Writes bench/results/latest.json and bench/RESULTS.md. BENCH_QUICK=1 shrinks
 * every size for a smoke run. Never part of `npm test`: figures are recorded, not asserted.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { drainRun } from './scenarios/drain';
import type { DrainRun } from './scenarios/drain';
import { idleRuns } from './scenarios/idle';
import { latencyRun } from './scenarios/latency';
import type { LatencyRun } from './scenarios/latency';
import { mqttRoundTripP50, syncP50 } from './scenarios/limit';
import { simScaleRun } from './scenarios/sim-scale';
import { soakRun } from './scenarios/soak';
import type { SimScaleRun } from './scenarios/sim-scale';
import { startupRuns } from './scenarios/startup';
import { AGENT_KINDS } from './support/agents';
import type { AgentKind } from './support/agents';
import { planFrom } from './support/plan';
import type { Plan } from './support/plan';
import { repoRoot } from './support/proc';
import { renderMarkdown } from './support/report';
import type { Results } from './support/report';
import { withStack } from './support/stack';
import { round, spread } from './support/stats';

function progress(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function machine(): Results['meta']['machine'] {
  let mosquitto = 'unknown';
  try {
    execFileSync('/usr/sbin/mosquitto', ['-h'], { encoding: 'utf8' });
  } catch (err) {
    // `mosquitto -h` prints its version and exits non-zero.
    const out = String((err as { stdout?: unknown }).stdout ?? '');
    mosquitto = /mosquitto version (\S+)/.exec(out)?.[1] ?? 'unknown';
  }
  return { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, ramGb: Math.round(totalmem() / 2 ** 30), kernel: release(), mosquitto };
}

async function limit(p: Plan): Promise<Results['limit']> {
  progress('limit: MQTT round trip, fsync');
  const rtt: number[] = [];
  await withStack(['echo'], async (stack) => {
    for (let i = 0; i < p.limit.runs; i++) rtt.push(await mqttRoundTripP50(stack, 'echo', p.limit.mqttEchoes));
  });
  const fsync: number[] = [];
  const fdatasync: number[] = [];
  for (let i = 0; i < p.limit.runs; i++) {
    fsync.push(await syncP50(tmpdir(), p.limit.syncAppends, false));
    fdatasync.push(await syncP50(tmpdir(), p.limit.syncAppends, true));
  }
  return { mqttRttMs: spread(rtt), fsyncMs: spread(fsync), fdatasyncMs: spread(fdatasync) };
}

async function latency(p: Plan): Promise<Results['latency']> {
  const out = {} as Results['latency'];
  for (const kind of AGENT_KINDS) {
    const runs: LatencyRun[] = [];
    const { jobs, runs: n } = p.latency[kind];
    for (let i = 0; i < n; i++) {
      progress(`latency: ${kind} run ${i + 1}/${n}, ${jobs} jobs`);
      runs.push(await latencyRun(kind, jobs, `lat${i}`));
    }
    out[kind] = {
      jobsPerRun: jobs,
      handlerP50: spread(runs.map((r) => r.handlerP50)),
      handlerP99: spread(runs.map((r) => r.handlerP99)),
      succeededP50: spread(runs.map((r) => r.succeededP50)),
      succeededP99: spread(runs.map((r) => r.succeededP99)),
    };
  }
  return out;
}

async function drain(p: Plan): Promise<Results['drain']> {
  const out = { ours: {}, 'ours-crt': {}, release: {}, baseline: {} } as Results['drain'];
  const sizes = [...new Set(AGENT_KINDS.flatMap((k) => p.drain.sizes[k]))].sort((a, b) => a - b);
  for (const size of sizes) {
    for (const kind of AGENT_KINDS.filter((k) => p.drain.sizes[k].includes(size))) {
      const runs: DrainRun[] = [];
      const n = p.drain.runs(size);
      for (let i = 0; i < n; i++) {
        progress(`drain: ${kind}, ${size} queued, run ${i + 1}/${n}`);
        runs.push(await drainRun(kind, size, p.drain.limitMs(size)));
      }
      out[kind][String(size)] = {
        queued: size,
        complete: runs.every((r) => r.complete),
        done: runs.map((r) => r.done),
        jobsPerSecond: spread(runs.map((r) => r.jobsPerSecond)),
        msPerJob: spread(runs.map((r) => r.msPerJob)),
        cpuMsPerJob: spread(runs.map((r) => r.cpuMsPerJob)),
        peakRssMb: spread(runs.map((r) => r.peakRssMb)),
        medianRssMb: spread(runs.map((r) => r.medianRssMb)),
        requestsPerJob: spread(runs.map((r) => r.requestsPerJob)),
        requests: runs.map((r) => r.requests),
      };
    }
  }
  return out;
}

async function idle(p: Plan): Promise<Results['idle']> {
  progress(`idle: ${p.idle.copies} of each kind for ${p.idle.windowMs / 1000} s`);
  const samples = await idleRuns(p.idle.copies, p.idle.windowMs);
  const of = (k: AgentKind | 'floor') => samples.filter((s) => s.kind === k);
  const fig = (k: AgentKind | 'floor') => ({
    rssMb: spread(of(k).map((s) => s.rssMb)),
    anonMb: spread(of(k).map((s) => s.memory.anonMb)),
    fileMb: spread(of(k).map((s) => s.memory.fileMb)),
    pssMb: spread(of(k).map((s) => s.memory.pssMb)),
    cpuPercent: spread(of(k).map((s) => s.cpuPercent)),
  });
  return { windowS: p.idle.windowMs / 1000, ours: fig('ours'), 'ours-crt': fig('ours-crt'), release: fig('release'), baseline: fig('baseline'), floor: fig('floor') };
}

async function soak(p: Plan): Promise<Results['soak']> {
  const { checkpoints, reconnects, reconnectBudgetMs } = p.soak;
  progress(`soak: release through ${checkpoints.join(' / ')} no-op jobs, then up to ${reconnects} reconnects`);
  return soakRun(checkpoints, reconnects, reconnectBudgetMs);
}

async function startup(p: Plan): Promise<Results['startup']> {
  progress(`start-up: ${p.startup.runs} runs of each kind`);
  const runs = await startupRuns(p.startup.runs);
  const fig = (k: AgentKind | 'floor') => {
    const mine = runs.filter((r) => r.kind === k);
    const ready = mine.map((r) => r.readyMs).filter((v): v is number => v !== undefined);
    return {
      firstRequest: mine[0]?.firstRequest ?? '',
      firstRequestMs: spread(mine.map((r) => r.firstRequestMs)),
      ...(ready.length ? { readyMs: spread(ready) } : {}),
    };
  };
  const nodeExit: number[] = [];
  for (let i = 0; i < p.startup.runs * 2; i++) nodeExit.push(nodeEmptyRunMs());
  return { ours: fig('ours'), 'ours-crt': fig('ours-crt'), release: fig('release'), baseline: fig('baseline'), floor: fig('floor'), nodeEmptyMs: spread(nodeExit) };
}

/** The yardstick of the start-up target: `node -e 0`, spawn to exit, the whole process. */
function nodeEmptyRunMs(): number {
  const t0 = performance.now();
  execFileSync(process.execPath, ['-e', '0']);
  return performance.now() - t0;
}

async function simScale(p: Plan): Promise<Results['simScale']> {
  const runs: SimScaleRun[] = [];
  for (let i = 0; i < p.simScale.runs; i++) {
    progress(`sim scale: ${p.simScale.things} things, run ${i + 1}/${p.simScale.runs}`);
    runs.push(await simScaleRun(p.simScale.things, p.simScale.changes));
  }
  const fig = (k: keyof SimScaleRun) => spread(runs.map((r) => r[k]));
  return {
    things: p.simScale.things,
    groups: runs[0]?.groups ?? 0,
    changesPerRun: p.simScale.changes,
    heapMb: fig('heapMb'),
    rssMb: fig('rssMb'),
    addToGroupsMs: fig('addToGroupsMs'),
    createJobMs: fig('createJobMs'),
    notificationsOnCreate: runs[0]?.notificationsOnCreate ?? 0,
    membershipChangeP50Ms: fig('membershipChangeP50Ms'),
    membershipChangeMaxMs: fig('membershipChangeMaxMs'),
    listPageP50Ms: fig('listPageP50Ms'),
    listPageHttpP50Ms: fig('listPageHttpP50Ms'),
  };
}

/** The hand-written analysis ("## Findings" onwards) survives a re-run; the tables above it are regenerated. */
async function keptSections(file: string): Promise<string> {
  const old = await readFile(file, 'utf8').catch(() => '');
  const at = old.indexOf('\n## Findings');
  return at >= 0 ? old.slice(at) : '';
}

async function main(): Promise<void> {
  const p = planFrom(process.env);
  const t0 = Date.now();
  // Load from other processes skews every figure on a 2-core machine: record it at both ends.
  const meta = { date: new Date().toISOString(), node: process.version, quick: p.quick, machine: machine(), durationS: 0, loadAvg1m: [round(loadavg()[0] ?? 0)] };
  const results: Results = {
    meta,
    limit: await limit(p),
    startup: await startup(p),
    latency: await latency(p),
    drain: await drain(p),
    idle: await idle(p),
    soak: await soak(p),
    simScale: await simScale(p),
  };
  meta.durationS = Math.round((Date.now() - t0) / 1000);
  meta.loadAvg1m.push(round(loadavg()[0] ?? 0));
  const dir = join(repoRoot(), 'bench');
  await mkdir(join(dir, 'results'), { recursive: true });
  const name = p.quick ? 'quick.json' : 'latest.json';
  await writeFile(join(dir, 'results', name), `${JSON.stringify(results, null, 2)}\n`);
  const mdFile = join(dir, p.quick ? 'results/QUICK.md' : 'RESULTS.md');
  const md = renderMarkdown(results) + (await keptSections(mdFile));
  await writeFile(mdFile, md);
  process.stdout.write(md);
  progress(`done in ${meta.durationS} s`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
