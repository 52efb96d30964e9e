/**
 * Signed job documents through the real agent, the parts that need the device's memory and network
 * (docs/SIGNING.md): artifacts fetched through presigned URLs from the sim's S3-like object front
 * (HTTPS, sim CA) and checked against their signed size and SHA-256, AWS retries counted against
 * `maxAttempts`, rollback by `seq`, and a trust-store rotation by a `trust-update` job. One stack
 * (mosquitto over mTLS + the sim), one agent, cases in order: the rotation comes last.
 */
import { randomBytes, createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateJobCommand } from '@aws-sdk/client-iot';
import { AgentProcess, agentConfig, waitFor } from '../support/agent-proc';
import type { AgentSetup } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { envelope, makeKey, signStore, storeDoc } from '../support/trust';
import type { StoreSpec, TestKey } from '../support/trust';
import type { Artifact, JobPayload } from '../../src/trust';
import { handlerRuns } from './helpers';

const THING = 'lifecycle-1';
const BUCKET = 'fw-bucket';
const [rootA, rootB, rootC] = [makeKey('root-a'), makeKey('root-b'), makeKey('root-c')];
const ci1 = makeKey('ci-1');
const ci2 = makeKey('ci-2');
const admin = makeKey('admin-1');
const policies: StoreSpec['policies'] = {
  record: { require: { ci: 1 }, maxValiditySeconds: 86400 },
  artifact: { require: { ci: 1 }, maxValiditySeconds: 86400 },
  'trust-update': { require: { admin: 1 } },
};
const v1 = signStore(storeDoc({ roots: [rootA!, rootB!], threshold: 2, roles: { ci: [ci1], admin: [admin] }, policies }), [rootA!, rootB!]);

// Reads the file it is given, as an installer would, and records what it saw.
const ARTIFACT_HANDLER = `'use strict';
const fs = require('node:fs');
const crypto = require('node:crypto');
module.exports = {
  name: 'artifact',
  async run(ctx) {
    const file = ctx.document.file;
    const st = fs.statSync(file);
    const sha256 = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    fs.appendFileSync(ctx.options.logFile, JSON.stringify({ jobId: ctx.job.jobId, executionNumber: ctx.job.executionNumber, file, sha256, mode: st.mode & 0o777 }) + '\\n');
    return { status: 'SUCCEEDED' };
  },
};
`;

let stack: Stack;
let setup: AgentSetup;
let agent: AgentProcess;
let artifactLog: string;
/** What the sim's object front serves: `objectsRoot/BUCKET/KEY`. */
let objectsRoot: string;
const good = randomBytes(256 * 1024);

beforeAll(async () => {
  objectsRoot = await mkdtemp(join(tmpdir(), 'ija-objects-'));
  stack = await startStack({ things: [THING], sim: { objectsDir: objectsRoot, options: { stripNulls: true } } });
  await putObject('builds/good/fw.bin', good);
  setup = await agentConfig(stack, THING, THING);
  artifactLog = join(dirname(setup.handlerLog), 'artifact.log');
  const handlersDir = (setup.config['handlers'] as { directories: string[] }).directories[0]!;
  await writeFile(join(handlersDir, 'artifact.js'), ARTIFACT_HANDLER, { mode: 0o644 });
  const storeFile = join(stack.dir, 'trust.json');
  await writeFile(storeFile, JSON.stringify(v1), { mode: 0o644 });
  const handlers = setup.config['handlers'] as { options: Record<string, unknown> };
  const config = { ...setup.config, handlers: { ...handlers, options: { ...handlers.options, artifact: { logFile: artifactLog } } }, trust: { storeFile } };
  await writeFile(setup.configFile, JSON.stringify(config, null, 2));
  agent = new AgentProcess(['run', '--config', setup.configFile]);
  await agent.waitForLog((l) => l.msg === 'signed job documents required');
});
afterAll(async () => {
  agent?.kill('SIGKILL');
  await agent?.exited;
  await stack?.close();
  await rm(objectsRoot, { recursive: true, force: true });
});

async function putObject(key: string, bytes: Buffer): Promise<void> {
  const file = join(objectsRoot, BUCKET, key);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, bytes);
}

function payload(jobId: string, over: Partial<JobPayload>): JobPayload {
  const now = Math.floor(Date.now() / 1000);
  return { v: 1, jti: randomBytes(16).toString('base64url'), iat: now, exp: now + 3600, job: { id: jobId, ns: '' }, aud: { things: [THING] }, op: 'record', doc: { operation: 'record' }, ...over };
}

async function create(jobId: string, doc: object, extra: { retries?: number; presigned?: boolean } = {}): Promise<void> {
  await stack.iot.send(
    new CreateJobCommand({
      jobId,
      targets: [`arn:aws:iot:us-east-1:123456789012:thing/${THING}`],
      document: JSON.stringify(doc),
      ...(extra.retries ? { jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: extra.retries }] } } : {}),
      ...(extra.presigned ? { presignedUrlConfig: { roleArn: 'arn:aws:iam::123456789012:role/presign', expiresInSec: 600 } } : {}),
    }),
  );
}

function execution(jobId: string, n?: number): { status?: string; details: Record<string, string> } {
  const r = stack.sim.runtime.service.describeJobExecutionControl(jobId, THING, n);
  if (!r.ok) return { details: {} };
  const e = r.value.execution as { status?: string; statusDetails?: { detailsMap?: Record<string, string> } };
  return { ...(e.status ? { status: e.status } : {}), details: e.statusDetails?.detailsMap ?? {} };
}

async function settles(jobId: string, status: string, n?: number): Promise<Record<string, string>> {
  await waitFor(() => execution(jobId, n).status === status, `${jobId}${n ? ` #${n}` : ''} ${status}`, 60_000);
  return execution(jobId, n).details;
}

const recordRuns = (jobId: string): Record<string, unknown>[] => handlerRuns(setup.handlerLog).filter((r) => r.jobId === jobId);
const artifactRuns = (jobId: string): Record<string, unknown>[] => handlerRuns(artifactLog).filter((r) => r.jobId === jobId);

/** An envelope whose doc hands `${artifact:fw}` to the artifact handler, the object at `key` signed with `signed` bytes. */
function artifactEnvelope(jobId: string, key: string, signed: Buffer, over: Partial<JobPayload> = {}, signer: TestKey = ci1): object {
  const fw: Artifact = {
    s3: { region: 'eu-west-1', bucket: BUCKET, key, endpoint: stack.sim.endpoints.objects! },
    sha256: createHash('sha256').update(signed).digest('hex'),
    size: signed.length,
  };
  const p = payload(jobId, { op: 'artifact', doc: { operation: 'artifact', file: '${artifact:fw}' }, artifacts: { fw }, ...over });
  return envelope(p, [signer], { fw: `\${aws:iot:s3-presigned-url-v2:https://s3.eu-west-1.amazonaws.com/${BUCKET}/${key}}` });
}

describe('signed artifacts, retries, rollback and rotation through the real agent', () => {
  it('a signed artifact is downloaded, checked and handed to the handler as a local 0600 file, removed afterwards', async () => {
    await create('art-good', artifactEnvelope('art-good', 'builds/good/fw.bin', good), { presigned: true });
    await settles('art-good', 'SUCCEEDED');
    const [run] = artifactRuns('art-good');
    expect(run).toMatchObject({ sha256: createHash('sha256').update(good).digest('hex'), mode: 0o600 });
    const file = String(run!['file']);
    expect(file.startsWith(join(setup.stateDir, 'artifacts') + '/')).toBe(true);
    expect(file.endsWith('/fw.bin')).toBe(true);
    await waitFor(() => !existsSync(file), 'the downloaded artifact removed after the job');
  });

  it('the object at the signed key holds other bytes of the same size: REJECTED artifact-digest-mismatch, the handler never started', async () => {
    const other = randomBytes(good.length);
    await putObject('builds/swapped/fw.bin', other);
    await create('art-swapped', artifactEnvelope('art-swapped', 'builds/swapped/fw.bin', good), { presigned: true });
    const d = await settles('art-swapped', 'REJECTED');
    expect(d).toMatchObject({ 'ija:reason': 'artifact-digest-mismatch' });
    expect(d['ija:detail']).toMatch(/SHA-256/);
    expect(artifactRuns('art-swapped')).toHaveLength(0);
  });

  it('a complete object of another size: REJECTED artifact-digest-mismatch, the handler never started', async () => {
    await putObject('builds/short/fw.bin', good.subarray(0, 1000));
    await create('art-short', artifactEnvelope('art-short', 'builds/short/fw.bin', good), { presigned: true });
    const d = await settles('art-short', 'REJECTED');
    expect(d).toMatchObject({ 'ija:reason': 'artifact-digest-mismatch' });
    expect(d['ija:detail']).toMatch(/1000 bytes/);
    expect(artifactRuns('art-short')).toHaveLength(0);
  });

  it('a download cut short is FAILED (retryable) and uses up no attempt: the AWS retry fetches it again and runs once', async () => {
    await putObject('builds/cut/fw.bin', good);
    stack.sim.objects!.truncate(`/${BUCKET}/builds/cut/fw.bin`, 4096);
    // maxAttempts 1 (the default): the handler never started on execution 1, so execution 2 may run.
    await create('art-cut', artifactEnvelope('art-cut', 'builds/cut/fw.bin', good), { presigned: true, retries: 1 });
    const first = await settles('art-cut', 'FAILED', 1);
    expect(first['ija:reason']).toBeUndefined();
    expect(first['ija:detail']).toMatch(/(broke off|closed) after \d+ of 262144 bytes/);
    await settles('art-cut', 'SUCCEEDED', 2);
    expect(artifactRuns('art-cut').map((r) => r['executionNumber'])).toEqual([2]);
  });

  it('AWS retries run up to maxAttempts; the next retry is REJECTED replay and its handler never starts', async () => {
    await create('retry-max', envelopeOf(payload('retry-max', { maxAttempts: 2, doc: { operation: 'record', fail: true } })), { retries: 3 });
    await settles('retry-max', 'FAILED', 1);
    await settles('retry-max', 'FAILED', 2);
    const third = await settles('retry-max', 'REJECTED', 3);
    expect(third).toMatchObject({ 'ija:reason': 'replay' });
    expect(third['ija:detail']).toMatch(/allows 2 execution/);
    expect(recordRuns('retry-max').map((r) => r['executionNumber'])).toEqual([1, 2]);
  });

  it('a lower seq on the same stream after a higher one ran: REJECTED rollback', async () => {
    await create('seq-5', envelopeOf(payload('seq-5', { seq: { stream: 'app/gw', n: 5 } })));
    await settles('seq-5', 'SUCCEEDED');
    await create('seq-4', envelopeOf(payload('seq-4', { seq: { stream: 'app/gw', n: 4 } })));
    expect(await settles('seq-4', 'REJECTED')).toMatchObject({ 'ija:reason': 'rollback' });
    await create('seq-other', envelopeOf(payload('seq-other', { seq: { stream: 'app/other', n: 1 } })));
    await settles('seq-other', 'SUCCEEDED');
    expect(recordRuns('seq-4')).toHaveLength(0);
    expect(recordRuns('seq-5')).toHaveLength(1);
  });

  it('trust-update rotates to version 2; the dropped key is refused, the new one runs; a skipped version is REJECTED trust-store-error', async () => {
    const v2 = signStore(storeDoc({ version: 2, roots: [rootA!, rootC!], threshold: 2, roles: { ci: [ci2], admin: [admin] }, policies }), [rootA!, rootB!, rootC!]);
    await create('rotate-2', envelope(payload('rotate-2', { op: 'trust-update', doc: v2 as never }), [admin]));
    expect(await settles('rotate-2', 'SUCCEEDED')).toMatchObject({ 'ija:trustVersion': '2' });

    await create('old-key', envelopeOf(payload('old-key', {}), ci1));
    expect(await settles('old-key', 'REJECTED')).toMatchObject({ 'ija:reason': 'unknown-key', 'ija:trustVersion': '2' });
    await create('new-key', envelopeOf(payload('new-key', {}), ci2));
    expect(await settles('new-key', 'SUCCEEDED')).toMatchObject({ 'ija:kids': 'ci-2', 'ija:trustVersion': '2' });

    const v4 = signStore(storeDoc({ version: 4, roots: [rootA!, rootC!], threshold: 2, roles: { ci: [ci2], admin: [admin] }, policies }), [rootA!, rootC!]);
    await create('rotate-4', envelope(payload('rotate-4', { op: 'trust-update', doc: v4 as never }), [admin]));
    const skipped = await settles('rotate-4', 'REJECTED');
    expect(skipped).toMatchObject({ 'ija:reason': 'trust-store-error', 'ija:trustVersion': '2' });
    expect(recordRuns('old-key')).toHaveLength(0);
    expect(recordRuns('new-key')).toHaveLength(1);
  });
});

function envelopeOf(p: JobPayload, signer: TestKey = ci1): object {
  return envelope(p, [signer]);
}
