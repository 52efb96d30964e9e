/**
 * One chaos run: mosquitto, the local Jobs service joined to it, a TCP proxy between the agent and
 * the broker, and the agent as a real process — fed a seeded stream of jobs in the default
 * namespace (MQTT) and one namespace (HTTPS data plane) while the planned faults fire. The verdict
 * comes from `check.ts`.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSimPki } from '../../src/sim/registry/pki-store';
import { startJobsService } from '../../src/sim/start';
import type { JobsServiceHandle } from '../../src/sim/start';
import { AgentProcess, runStatus, writeAgentSetup } from './agent';
import type { AgentSetup } from './agent';
import { checkChaos } from './check';
import type { HandlerEvent, JournaledOutcome, Verdict } from './check';
import { SmallDisk } from '../../test/support/device-faults';
import { startMosquitto } from '../../test/support/mosquitto';
import type { Mosquitto } from '../../test/support/mosquitto';
import { DEFAULTS, planFaults, planJobs, seededRandom } from './plan';
import type { ChaosOptions, JobPlan, PlannedFault } from './plan';
import { ChaosProxy } from './proxy';

export interface ChaosReport extends Verdict {
  seed: number;
  jobs: number;
  kills: number;
  /** Agent starts after the first (after a kill, or after it died by itself). */
  restarts: number;
  brokerRestarts: number;
  drops: number;
  stalls: number;
  halfOpens: number;
  diskFulls: number;
  /** Disk-full faults the agent noticed (a journal write failed with ENOSPC). */
  diskFullHits: number;
  /** …after which it logged that the directory could be written again, by itself. */
  diskResumes: number;
  statusChecks: number;
  durationMs: number;
}

const THING = 'chaos-thing';
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'REJECTED', 'CANCELED', 'TIMED_OUT', 'REMOVED']);

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Env {
  dir: string;
  broker: Mosquitto;
  sim: JobsServiceHandle;
  proxy: ChaosProxy;
  setup: AgentSetup;
  disk?: SmallDisk;
}

async function startEnv(o: ChaosOptions): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'ija-chaos-'));
  const simDir = join(dir, 'sim');
  const pki = await ensureSimPki(simDir, [THING]);
  const broker = await startMosquitto({ dir, pki: { caFile: pki.caFile, server: pki.server, service: pki.service } });
  const sim = await startJobsService({ stateDir: simDir, things: [THING], broker: broker.url, brokerCa: pki.caFile }).catch(async (err: unknown) => {
    await broker.stop();
    throw err;
  });
  const proxy = new ChaosProxy({ host: '127.0.0.1', port: broker.port });
  const thingFiles = pki.things[THING];
  if (!thingFiles) throw new Error(`no certificate for ${THING}`);
  const setup = await writeAgentSetup({ dir: join(dir, 'agent'), thing: THING, mqttPort: await proxy.listen(), dataPlane: sim.endpoints.dataPlane, caFile: pki.caFile, cert: thingFiles, namespace: o.namespace });
  // Room for the journal between compactions and a snapshot beside it; the faults fill the rest.
  const disk = o.diskFulls > 0 ? await SmallDisk.mount(setup.stateDir, 4096) : undefined;
  return { dir, broker, sim, proxy, setup, ...(disk ? { disk } : {}) };
}

class ChaosRun {
  readonly harness: string[] = [];
  readonly agents: AgentProcess[] = [];
  private agent: AgentProcess | undefined;
  private expectExit = false;
  counts = { kills: 0, restarts: 0, brokerRestarts: 0, statusChecks: 0, diskFulls: 0, diskFullHits: 0, diskResumes: 0 };

  constructor(
    readonly env: Env,
    readonly o: ChaosOptions,
    private readonly rnd: () => number,
    private readonly say: (s: string) => void,
  ) {}

  startAgent(): void {
    if (this.agents.length > 0) this.counts.restarts++;
    const a = new AgentProcess(['run', '--config', this.env.setup.configFile]);
    this.agents.push(a);
    this.agent = a;
    this.expectExit = false;
    void a.exited.then(({ code, signal }) => {
      if (this.agent === a && !this.expectExit) this.harness.push(`agent ${this.agents.indexOf(a)} exited by itself (code ${code}, signal ${signal}): ${a.raw.slice(-12).join(' | ')}`);
    });
  }

  /** An agent that died by itself is a violation already recorded; bring it back so the run can finish. */
  keepAgentAlive(): void {
    if (this.agent && !this.agent.running && !this.expectExit) this.startAgent();
  }

  endedCount(jobs: readonly JobPlan[]): number {
    const last = new Map<string, string>();
    for (const h of this.env.sim.runtime.service.history()) if (h.thing === THING) last.set(h.jobId, h.to);
    return jobs.filter((j) => TERMINAL.has(last.get(j.jobId) ?? '')).length;
  }

  async createJobs(jobs: readonly JobPlan[]): Promise<void> {
    let i = 0;
    while (i < jobs.length) {
      const burst = 1 + Math.floor(this.rnd() * 12);
      for (const j of jobs.slice(i, i + burst)) {
        const document = JSON.stringify({ operation: j.handler, ms: j.ms, ...(j.outcome === 'FAILED' ? { fail: true } : {}) });
        const r = this.env.sim.runtime.service.createJob({ jobId: j.jobId, targets: [THING], document, ...(j.namespace ? { namespaceId: j.namespace } : {}) });
        if (!r.ok) this.harness.push(`could not create ${j.jobId}: ${r.error.message}`);
      }
      i += burst;
      await delay(Math.floor(this.rnd() * 400));
    }
  }

  private async kill(midJob: boolean, delayMs: number): Promise<void> {
    const a = this.agent;
    if (!a) return;
    if (midJob) {
      const hit = await a.waitForLog((l) => l.msg === 'job started' && l['handler'] === 'record', 15_000, a.lines.length);
      if (hit) await delay(Math.floor(delayMs / 10));
    }
    this.expectExit = true;
    a.kill('SIGKILL');
    await a.exited;
    this.counts.kills++;
    this.checkStatus('after a kill');
    this.startAgent();
  }

  checkStatus(when: string): void {
    this.counts.statusChecks++;
    const r = runStatus(this.env.setup.configFile);
    if (r.code !== 0) this.harness.push(`status --config failed ${when} (exit ${r.code}): ${r.output.trim().slice(0, 400)}`);
  }

  /**
   * Fill the state directory, hold it full for stallMs, free it. The fault ends when the agent says
   * it can write again: an outcome kept only in memory is lost to a kill -9 before that (a limit
   * the agent documents), and the plan's kills come after this fault, never during it.
   */
  private async diskFull(stallMs: number): Promise<void> {
    const a = this.agent;
    const disk = this.env.disk;
    if (!a || !disk) return;
    this.counts.diskFulls++;
    const from = a.lines.length;
    await disk.fill();
    const hit = await a.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('the state directory cannot be written'), 15_000, from);
    await delay(stallMs);
    await disk.free();
    if (!hit) return;
    this.counts.diskFullHits++;
    const back = await a.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('the state directory can be written again'), 60_000, from);
    if (back) this.counts.diskResumes++;
    else if (a.running) this.harness.push('the agent did not resume writing its journal within 60 s of space returning');
  }

  async fire(f: PlannedFault): Promise<void> {
    await delay(f.delayMs);
    this.say(`fault: ${f.kind}${f.kind === 'stall' ? ` ${f.stallMs} ms` : ''}`);
    switch (f.kind) {
      case 'kill':
        return this.kill(false, f.delayMs);
      case 'kill-mid-job':
        return this.kill(true, f.delayMs);
      case 'broker-restart':
        this.counts.brokerRestarts++;
        return this.env.broker.restart();
      case 'drop':
        this.env.proxy.drop();
        return;
      case 'stall':
        return this.env.proxy.stall(f.stallMs);
      case 'half-open':
        this.env.proxy.halfOpen();
        return;
      case 'disk-full':
        return this.diskFull(f.stallMs);
    }
  }

  /** Polls the service's record (in-process, cheap) until `cond` holds or the deadline passes. */
  async until(cond: () => boolean, deadline: number): Promise<boolean> {
    while (!cond()) {
      if (Date.now() > deadline) return false;
      this.keepAgentAlive();
      await delay(50);
    }
    return true;
  }

  async stopAgent(): Promise<void> {
    const a = this.agent;
    if (!a?.running) return;
    this.expectExit = true;
    a.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([a.exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 15_000)))]);
    clearTimeout(timer);
    if (!stopped) {
      this.harness.push('agent did not stop within 15 s of SIGTERM');
      a.kill('SIGKILL');
      await a.exited;
    }
  }
}

async function gather(run: ChaosRun, jobs: readonly JobPlan[]): Promise<Verdict> {
  const history = run.env.sim.runtime.service.history().filter((h) => h.thing === THING);
  const text = await readFile(run.env.setup.handlerLog, 'utf8').catch(() => '');
  const handlerLog = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as HandlerEvent);
  const journaled: JournaledOutcome[] = [];
  for (const a of run.agents) {
    for (const l of a.lines) {
      if (l.msg !== 'job finished' || typeof l['jobId'] !== 'string') continue;
      const details = l['details'] as Record<string, unknown> | undefined;
      const reason = typeof details?.['reason'] === 'string' ? details['reason'] : undefined;
      journaled.push({ jobId: l['jobId'], status: String(l['status']), ...(reason !== undefined ? { reason } : {}) });
    }
  }
  return checkChaos({ jobs, history, handlerLog, journaled, harness: run.harness });
}

/** Every agent's output, one file per start, so a violation can be read in full. */
async function saveLogs(run: ChaosRun, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await Promise.all(run.agents.map((a, i) => writeFile(join(dir, `agent-${i}.log`), `${a.raw.join('\n')}\n`)));
  await copyFile(run.env.setup.handlerLog, join(dir, 'handler.log')).catch(() => undefined);
  await copyFile(run.env.broker.logFile, join(dir, 'mosquitto.log')).catch(() => undefined);
}

async function drive(run: ChaosRun, jobs: JobPlan[], faults: PlannedFault[]): Promise<void> {
  const deadline = Date.now() + run.o.deadlineMs;
  run.startAgent();
  const creating = run.createJobs(jobs);
  for (const f of faults) {
    await run.until(() => run.endedCount(jobs) >= f.atFraction * jobs.length, deadline);
    await run.fire(f);
  }
  await creating;
  const done = await run.until(() => run.endedCount(jobs) === jobs.length, deadline);
  if (!done) run.harness.push(`not every execution ended within ${run.o.deadlineMs} ms`);
  await run.stopAgent();
  run.checkStatus('at the end');
}

export async function runChaos(opts: Partial<ChaosOptions> = {}, say: (s: string) => void = () => undefined): Promise<ChaosReport> {
  const o = { ...DEFAULTS, ...opts };
  const rnd = seededRandom(o.seed);
  const jobs = planJobs(o, rnd);
  const faults = planFaults(o, rnd);
  const t0 = Date.now();
  const env = await startEnv(o);
  const run = new ChaosRun(env, o, rnd, say);
  try {
    await drive(run, jobs, faults);
    const verdict = await gather(run, jobs);
    if (verdict.violations.length > 0 && o.logDir) await saveLogs(run, o.logDir);
    const p = env.proxy.stats;
    return { ...verdict, seed: o.seed, jobs: jobs.length, ...run.counts, drops: p.drops, stalls: p.stalls, halfOpens: p.halfOpens, durationMs: Date.now() - t0 };
  } finally {
    for (const a of run.agents) if (a.running) a.kill('SIGKILL');
    await Promise.all(run.agents.map((a) => a.exited));
    await env.proxy.close();
    await env.disk?.unmount();
    await env.sim.close();
    await env.broker.stop();
    await rm(env.dir, { recursive: true, force: true });
  }
}
