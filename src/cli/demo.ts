/**
 * `iot-jobs-agent demo`: the local Jobs service on its embedded broker, the agent, a sample handler
 * and a handful of jobs — one in a namespace (HTTPS data plane), one that fails, one force-canceled
 * while it runs, one with a document no handler accepts, one that fails once and succeeds when the
 * service retries it as execution #2 — each shown on its way to a final status. The agent requires
 * signed job documents (docs/SIGNING.md): every job is signed by the demo's operator key except the
 * one from the AWS managed template, which cannot carry a signature and is REJECTED unsigned. Then a
 * second device enrols by claim (fleet provisioning) and runs a CONTINUOUS job of its thing group.
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
import { demoEnrolment, ENROLLED_THING } from './demo-enrol';
import { demoSigner } from './demo-signing';
import type { DemoSigner } from './demo-signing';
import type { CliIo, Subcommand } from './args';

const THING = 'demo-gateway';
const NS = 'fleet-ops';

/**
 * The sample handler: a few steps with progress; `fail: true` makes it fail, `failFirstRun: true`
 * fails the first execution only (a retry is execution 2, ctx.job.executionNumber), `ms` sets its length.
 */
const sampleHandler: JobHandler = {
  name: 'sample-update',
  restartPolicy: 'rerun',
  validate(doc) {
    // Milliseconds: a signed payload holds integers only (docs/SIGNING.md).
    const d = doc as { ms?: unknown };
    if (d.ms !== undefined && !(Number.isSafeInteger(d.ms) && (d.ms as number) >= 0 && (d.ms as number) <= 600_000)) return 'ms must be a whole number 0..600000';
    return undefined;
  },
  async run(ctx): Promise<HandlerResult> {
    const d = ctx.document as { ms?: number; fail?: boolean; failFirstRun?: boolean };
    const steps = 4;
    for (let i = 1; i <= steps; i++) {
      await sleep((d.ms ?? 1000) / steps, ctx.signal);
      ctx.progress({ step: `${i}/${steps}`, percent: String((i * 100) / steps) });
    }
    if (d.failFirstRun === true && ctx.job.executionNumber === 1) return { status: 'FAILED', details: { reason: 'mirror unreachable on the first run (simulated)' } };
    return d.fail ? { status: 'FAILED', details: { reason: 'checksum mismatch in step 4 (simulated)' } } : { status: 'SUCCEEDED', details: { result: 'applied' } };
  },
};

interface DemoJob {
  jobId: string;
  /** The job document, or the AWS managed template and parameters the service builds it from. */
  document: object | { template: string; parameters: Record<string, string> };
  namespaceId?: string;
  /** Other CreateJob members. */
  extra?: object;
  expect: string;
  /** The execution number the final status is expected on (1 unless retried). */
  execution?: number;
  /** Signed `maxAttempts`: how many executions (the service's retries) the envelope may run. */
  maxAttempts?: number;
  note: string;
}

const JOBS: DemoJob[] = [
  { jobId: 'kernel-report', document: { operation: 'exec', command: ['uname', '-sr'] }, expect: 'SUCCEEDED', note: 'built-in exec handler, signed' },
  { jobId: 'firmware-1-2', document: { operation: 'sample-update', ms: 1000 }, expect: 'SUCCEEDED', note: 'sample handler with progress' },
  { jobId: 'fleet-inventory', document: { operation: 'sample-update', ms: 500 }, namespaceId: NS, expect: 'SUCCEEDED', note: `namespace ${NS}, over the HTTPS data plane` },
  { jobId: 'config-push', document: { operation: 'sample-update', ms: 500, fail: true }, expect: 'FAILED', note: 'handler reports failure' },
  { jobId: 'long-migration', document: { operation: 'sample-update', ms: 60_000 }, expect: 'CANCELED', note: 'force-canceled while running' },
  { jobId: 'mystery-op', document: { operation: 'teleport' }, expect: 'REJECTED', note: 'no handler for this operation' },
  {
    jobId: 'whoami-managed',
    document: { template: 'AWS-Run-Command', parameters: { command: 'id,-un' } },
    expect: 'REJECTED',
    note: 'from the AWS managed template AWS-Run-Command: unsigned',
  },
  {
    jobId: 'flaky-download',
    document: { operation: 'sample-update', ms: 500, failFirstRun: true },
    extra: { jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 2 }] } },
    maxAttempts: 2,
    expect: 'SUCCEEDED',
    execution: 2,
    note: 'FAILED once, retried by the service, SUCCEEDED as execution #2',
  },
];

/** The CreateJob body's document part: a signed envelope, or an AWS managed template ARN and its documentParameters. */
function documentFields(j: DemoJob, signer: DemoSigner): Record<string, unknown> {
  const d = j.document;
  if ('template' in d && 'parameters' in d) {
    const { template, parameters } = d as { template: string; parameters: Record<string, string> };
    return { jobTemplateArn: `arn:aws:iot:us-east-1::jobtemplate/${template}:1.0`, documentParameters: parameters };
  }
  return { document: JSON.stringify(signer.sign(j.jobId, j.namespaceId ?? '', THING, d as Record<string, unknown>, j.maxAttempts)) };
}

/** The outcome line: the signature verdict, then the handler's reason or result. */
function outcomeText(d: Record<string, string>): string {
  const verdict = d['ija:reason'] !== undefined ? `signature check: ${d['ija:reason']} (${d['ija:detail'] ?? ''})` : d['ija:kids'] ? `signed by ${d['ija:kids']}` : '';
  return [verdict, d.reason ?? d.result ?? ''].filter(Boolean).join('; ');
}

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
    const signer = await demoSigner(join(dir, 'trust.json'), ['exec', 'sample-update', 'teleport']);
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
        trust: { storeFile: signer.storeFile },
        log: { level: 'warn' },
      },
    });
    const agent = await createAgent(cfg, { log: createLogger({ level: 'silent' }), handlers: [sampleHandler] });
    agent.on('execution', (e: ExecutionEvent) => {
      const run = e.ref.executionNumber > 1 ? ` #${e.ref.executionNumber}` : '';
      const name = `${e.ref.namespace ? `${e.ref.namespace}/` : ''}${e.ref.jobId}${run}`.padEnd(28);
      if (e.type === 'started') say(`${name} IN_PROGRESS  (handler ${e.handler ?? '?'})`);
      else if (e.type === 'progress') say(`${name}   progress ${JSON.stringify(e.details)}`);
      else if (e.type === 'finished' || e.type === 'rejected') say(`${name} ${e.status ?? ''}  ${outcomeText(e.details ?? {})}`);
      else if (e.type === 'gone') say(`${name} stopped: the job was canceled in the cloud`);
    });
    agent.on('reported', (r: { ref: { jobId: string; executionNumber: number }; status: string; how: string }) =>
      say(`${`${r.ref.jobId}${r.ref.executionNumber > 1 ? ` #${r.ref.executionNumber}` : ''}`.padEnd(28)} → reported ${r.status} (${r.how})`),
    );
    const started: string[] = [];
    agent.on('dispatched', (d: { ref: { jobId: string; executionNumber: number } }) => started.push(`${d.ref.jobId}${d.ref.executionNumber > 1 ? ` #${d.ref.executionNumber}` : ''}`));
    await agent.start();
    // Jobs created before the first listings are in would be found all at once, and jobs queued in
    // the same second in two namespaces are ordered by configuration, not creation (see
    // docs/ARCHITECTURE.md §3). Created one by one while the agent listens, each is queued as its
    // notification arrives: in creation order.
    await agent.whenListed();
    say(`agent started for thing ${THING}`);
    for (const j of JOBS) {
      await control(ep.controlPlane, 'PUT', `/jobs/${j.jobId}`, {
        targets: [`arn:aws:iot:us-east-1:123456789012:thing/${THING}`],
        ...documentFields(j, signer),
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
    const enrolled = await demoEnrolment({ sim, signer, dir: join(dir, 'enrol'), control: (m, p, b) => control(ep.controlPlane, m, p, b), handler: sampleHandler, say });
    await sim.close();
    io.stdout.write('\nSummary\n');
    let ok = enrolled === 'SUCCEEDED';
    io.stdout.write(`  ${ok ? 'ok ' : 'BAD'} ${'fleet-welcome'.padEnd(18)} ${enrolled.padEnd(10)} #1  CONTINUOUS group job, run by ${ENROLLED_THING} right after it enrolled by claim\n`);
    for (const j of JOBS) {
      const got = latestOf(j.jobId);
      const good = got.status === j.expect && got.executionNumber === (j.execution ?? 1);
      if (!good) ok = false;
      io.stdout.write(`  ${good ? 'ok ' : 'BAD'} ${j.jobId.padEnd(18)} ${got.status.padEnd(10)} #${got.executionNumber}  ${j.note}\n`);
    }
    // First executions in creation order; a retry (#2) is queued only when its first run failed.
    const firsts = started.filter((s) => !s.includes('#'));
    const inOrder = JOBS.map((j) => j.jobId).filter((id) => firsts.includes(id)).every((id, i) => firsts[i] === id);
    if (!inOrder) ok = false;
    io.stdout.write(`\n  ${inOrder ? 'ok ' : 'BAD'} jobs started in the order they were created: ${started.join(', ')}\n`);
    io.stdout.write(`\n${ok ? 'All jobs reached the expected status' : 'Some jobs did not reach the expected status'} in ${((Date.now() - t0) / 1000).toFixed(1)} s.\n`);
    if (f.keep) io.stdout.write(`state kept in ${dir}\n`);
    else await rm(dir, { recursive: true, force: true });
    return ok ? 0 : 1;
  },
};
