/**
 * `iot-jobs-agent demo`: the local Jobs service on its embedded broker, the agent, a sample handler
 * and a handful of jobs — one in a namespace (HTTPS data plane), one that fails, one force-canceled
 * while it runs, one with a document no handler accepts, one that fails once and succeeds when the
 * service retries it as execution #2 — each shown on its way to a final status.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgent } from '../agent/create';
import type { ExecutionEvent } from '../agent/execution';
import { loadConfig } from '../config/load';
import type { HandlerResult, JobHandler } from '../handlers/api';
import { sleep } from '../lib/backoff';
import { createLogger } from '../lib/log';
import { startJobsService } from '../sim/start';
import { parseFlags } from './args';
import type { CliIo, Subcommand } from './args';

const THING = 'demo-gateway';
const NS = 'fleet-ops';

/**
 * The sample handler: a few steps with progress; `fail: true` makes it fail, `failFirstRun: true`
 * fails the first execution only (a retry is execution 2, ctx.job.executionNumber), `seconds` sets its length.
 */
const sampleHandler: JobHandler = {
  name: 'sample-update',
  restartPolicy: 'rerun',
  validate(doc) {
    const d = doc as { seconds?: unknown };
    if (d.seconds !== undefined && !(typeof d.seconds === 'number' && d.seconds >= 0 && d.seconds <= 600)) return 'seconds must be a number 0..600';
    return undefined;
  },
  async run(ctx): Promise<HandlerResult> {
    const d = ctx.document as { seconds?: number; fail?: boolean; failFirstRun?: boolean };
    const steps = 4;
    for (let i = 1; i <= steps; i++) {
      await sleep(((d.seconds ?? 1) * 1000) / steps, ctx.signal);
      ctx.progress({ step: `${i}/${steps}`, percent: String((i * 100) / steps) });
    }
    if (d.failFirstRun === true && ctx.job.executionNumber === 1) return { status: 'FAILED', details: { reason: 'mirror unreachable on the first run (simulated)' } };
    return d.fail ? { status: 'FAILED', details: { reason: 'checksum mismatch in step 4 (simulated)' } } : { status: 'SUCCEEDED', details: { result: 'applied' } };
  },
};

interface DemoJob {
  jobId: string;
  document: object;
  namespaceId?: string;
  /** Other CreateJob members. */
  extra?: object;
  expect: string;
  /** The execution number the final status is expected on (1 unless retried). */
  execution?: number;
  note: string;
}

const JOBS: DemoJob[] = [
  { jobId: 'kernel-report', document: { operation: 'exec', command: ['uname', '-sr'] }, expect: 'SUCCEEDED', note: 'built-in exec handler' },
  { jobId: 'firmware-1-2', document: { operation: 'sample-update', seconds: 1 }, expect: 'SUCCEEDED', note: 'sample handler with progress' },
  { jobId: 'fleet-inventory', document: { operation: 'sample-update', seconds: 0.5 }, namespaceId: NS, expect: 'SUCCEEDED', note: `namespace ${NS}, over the HTTPS data plane` },
  { jobId: 'config-push', document: { operation: 'sample-update', seconds: 0.5, fail: true }, expect: 'FAILED', note: 'handler reports failure' },
  { jobId: 'long-migration', document: { operation: 'sample-update', seconds: 60 }, expect: 'CANCELED', note: 'force-canceled while running' },
  { jobId: 'mystery-op', document: { operation: 'teleport' }, expect: 'REJECTED', note: 'no handler for this operation' },
  {
    jobId: 'flaky-download',
    document: { operation: 'sample-update', seconds: 0.5, failFirstRun: true },
    extra: { jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 2 }] } },
    expect: 'SUCCEEDED',
    execution: 2,
    note: 'FAILED once, retried by the service, SUCCEEDED as execution #2',
  },
];

async function control(base: string, method: string, path: string, body?: object): Promise<unknown> {
  const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

const USAGE = `Usage: iot-jobs-agent demo [--keep]

Runs the local Jobs service, the agent and a few sample jobs end to end, shows each job's path to
its final status and a summary. --keep leaves the temporary state directory in place.`;

export const demoCommand: Subcommand = {
  name: 'demo',
  summary: 'sim + agent + sample jobs, with a live view',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const f = parseFlags(argv, { keep: { type: 'boolean' } });
    const dir = await mkdtemp(join(tmpdir(), 'iot-jobs-demo-'));
    const t0 = Date.now();
    const say = (s: string): void => void io.stdout.write(`${((Date.now() - t0) / 1000).toFixed(2).padStart(6)}s  ${s}\n`);
    const sim = await startJobsService({ stateDir: join(dir, 'sim'), things: [THING] });
    const ep = sim.endpoints;
    say(`local Jobs service: mqtt ${ep.mqtt}, data plane ${ep.dataPlane}, control plane ${ep.controlPlane}`);
    const files = ep.things[THING];
    if (!files) throw new Error('sim did not provision the demo thing');
    const url = new URL(ep.mqtt);
    const cfg = loadConfig({
      overrides: {
        thingName: THING,
        mqtt: { endpoint: url.hostname, port: Number(url.port) },
        tls: { certificateFile: files.certificateFile, privateKeyFile: files.privateKeyFile, rootCaFile: ep.caFile },
        jobs: { namespaces: [NS], dataPlaneEndpoint: ep.dataPlane, progressIntervalSeconds: 1, safetyPollSeconds: 60 },
        handlers: { directories: [] },
        stateDirectory: join(dir, 'agent'),
        log: { level: 'warn' },
      },
    });
    const agent = await createAgent(cfg, { log: createLogger({ level: 'silent' }), handlers: [sampleHandler] });
    agent.on('execution', (e: ExecutionEvent) => {
      const run = e.ref.executionNumber > 1 ? ` #${e.ref.executionNumber}` : '';
      const name = `${e.ref.namespace ? `${e.ref.namespace}/` : ''}${e.ref.jobId}${run}`.padEnd(28);
      if (e.type === 'started') say(`${name} IN_PROGRESS  (handler ${e.handler ?? '?'})`);
      else if (e.type === 'progress') say(`${name}   progress ${JSON.stringify(e.details)}`);
      else if (e.type === 'finished' || e.type === 'rejected') say(`${name} ${e.status ?? ''}  ${e.details?.reason ?? e.details?.result ?? ''}`);
      else if (e.type === 'gone') say(`${name} stopped: the job was canceled in the cloud`);
    });
    agent.on('reported', (r: { ref: { jobId: string; executionNumber: number }; status: string; how: string }) =>
      say(`${`${r.ref.jobId}${r.ref.executionNumber > 1 ? ` #${r.ref.executionNumber}` : ''}`.padEnd(28)} → reported ${r.status} (${r.how})`),
    );
    await agent.start();
    say(`agent started for thing ${THING}`);
    for (const j of JOBS) {
      await control(ep.controlPlane, 'PUT', `/jobs/${j.jobId}`, {
        targets: [`arn:aws:iot:us-east-1:123456789012:thing/${THING}`],
        document: JSON.stringify(j.document),
        ...(j.namespaceId ? { namespaceId: j.namespaceId } : {}),
        ...j.extra,
      });
      say(`created job ${j.jobId} — ${j.note}`);
    }
    const service = sim.runtime.service;
    const latestOf = (jobId: string): { status: string; executionNumber: number } => {
      const r = service.describeJobExecutionControl(jobId, THING);
      return r.ok ? { status: String(r.value.execution.status), executionNumber: Number(r.value.execution.executionNumber) } : { status: 'UNKNOWN', executionNumber: 0 };
    };
    const statusOf = (jobId: string): string => latestOf(jobId).status;
    let canceled = false;
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (!canceled && statusOf('long-migration') === 'IN_PROGRESS') {
        await sleep(500);
        await control(ep.controlPlane, 'PUT', '/jobs/long-migration/cancel?force=true', { comment: 'demo: canceled while running' });
        say('force-canceled job long-migration from the control plane');
        canceled = true;
      }
      if (JOBS.every((j) => !['QUEUED', 'IN_PROGRESS'].includes(statusOf(j.jobId)))) break;
      await sleep(100);
    }
    await agent.whenIdle();
    await agent.stop();
    await sim.close();
    io.stdout.write('\nSummary\n');
    let ok = true;
    for (const j of JOBS) {
      const got = latestOf(j.jobId);
      const good = got.status === j.expect && got.executionNumber === (j.execution ?? 1);
      if (!good) ok = false;
      io.stdout.write(`  ${good ? 'ok ' : 'BAD'} ${j.jobId.padEnd(18)} ${got.status.padEnd(10)} #${got.executionNumber}  ${j.note}\n`);
    }
    io.stdout.write(`\n${ok ? 'All jobs reached the expected status' : 'Some jobs did not reach the expected status'} in ${((Date.now() - t0) / 1000).toFixed(1)} s.\n`);
    if (f.keep) io.stdout.write(`state kept in ${dir}\n`);
    else await rm(dir, { recursive: true, force: true });
    return ok ? 0 : 1;
  },
};
