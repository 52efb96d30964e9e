/**
 * Signed job documents end to end (docs/SIGNING.md): the built agent against mosquitto over mTLS
 * and the sim, which strips null members on delivery as AWS was reported to. A signed job runs; an
 * unsigned one, a replayed one and an expired one are REJECTED with `ija:reason` and their handler
 * never starts; kill -9 between start and report never runs a job twice; a 1970 wall clock
 * (libfaketime) neither refuses a valid envelope nor accepts an expired one.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteJobCommand } from '@aws-sdk/client-iot';
import { AgentProcess, agentConfig, waitFor } from '../support/agent-proc';
import type { AgentSetup, LogLine } from '../support/agent-proc';
import { FakeClock } from '../support/device-faults';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { envelope, makeKey, signStore, storeDoc } from '../support/trust';
import type { JobPayload } from '../../src/trust';
import { createJob, handlerRuns, statusOf } from './helpers';

const roots = [makeKey('root-a'), makeKey('root-b')];
const ci = makeKey('ci-1');
const trustDoc = signStore(storeDoc({ roots, threshold: 2, roles: { ci: [ci] }, policies: { record: { require: { ci: 1 }, maxValiditySeconds: 86400 } } }), roots);

let stack: Stack;
const procs: AgentProcess[] = [];

beforeAll(async () => {
  stack = await startStack({ things: ['signed-1', 'signed-2', 'signed-3', 'signed-4'], sim: { options: { stripNulls: true } } });
});
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await stack.close();
});

async function signedAgent(thing: string, env: NodeJS.ProcessEnv = {}): Promise<{ setup: AgentSetup; start: () => AgentProcess }> {
  const setup = await agentConfig(stack, thing, thing);
  const storeFile = join(stack.dir, `trust-${thing}.json`);
  await writeFile(storeFile, JSON.stringify(trustDoc), { mode: 0o644 });
  await writeFile(setup.configFile, JSON.stringify({ ...setup.config, trust: { storeFile } }, null, 2));
  return {
    setup,
    start: () => {
      const p = new AgentProcess(['run', '--config', setup.configFile], env);
      procs.push(p);
      return p;
    },
  };
}

/** An envelope for `jobId` on `thing`, signed now by the ci key. */
function signedDoc(jobId: string, thing: string, doc: Record<string, unknown>, over: Partial<JobPayload> = {}): object {
  const now = Math.floor(Date.now() / 1000);
  const p: JobPayload = { v: 1, jti: randomBytes(16).toString('base64url'), iat: now, exp: now + 3600, job: { id: jobId, ns: '' }, aud: { things: [thing] }, op: 'record', doc: { operation: 'record', ...doc } as never, ...over };
  return envelope(p, [ci]);
}

function detailsOf(jobId: string, thing: string): Record<string, string> {
  const r = stack.sim.runtime.service.describeJobExecutionControl(jobId, thing);
  return r.ok ? ((r.value.execution as { statusDetails?: { detailsMap?: Record<string, string> } }).statusDetails?.detailsMap ?? {}) : {};
}

async function settles(jobId: string, thing: string, status: string): Promise<Record<string, string>> {
  await waitFor(() => statusOf(stack, jobId, thing) === status, `${jobId} ${status}`, 60_000);
  return detailsOf(jobId, thing);
}

const ran = (setup: AgentSetup, jobId: string): number => handlerRuns(setup.handlerLog).filter((r) => r.jobId === jobId).length;

describe('signed job documents through the real agent', () => {
  it('a signed job runs; an unsigned one is REJECTED and never starts', async () => {
    const thing = 'signed-1';
    const { setup, start } = await signedAgent(thing);
    const agent = start();
    await agent.waitForLog((l) => l.msg === 'signed job documents required');

    const env = signedDoc('s-ok', thing, { note: 'signed' });
    await createJob(stack, 's-ok', thing, env);
    const ok = await settles('s-ok', thing, 'SUCCEEDED');
    expect(ok).toMatchObject({ 'ija:kids': 'ci-1', 'ija:trustVersion': '1', 'ija:clock': 'broker', ran: 's-ok' });
    expect(ran(setup, 's-ok')).toBe(1);

    await createJob(stack, 's-plain', thing, { operation: 'record' });
    const plain = await settles('s-plain', thing, 'REJECTED');
    expect(plain).toMatchObject({ 'ija:reason': 'unsigned', 'ija:trustVersion': '1' });
    expect(ran(setup, 's-plain')).toBe(0);
  });

  it('the same envelope under a deleted and recreated job: REJECTED replay, the handler ran once', async () => {
    const thing = 'signed-4';
    const { setup, start } = await signedAgent(thing);
    start();
    const env = signedDoc('s-again', thing, {});
    await createJob(stack, 's-again', thing, env);
    await settles('s-again', thing, 'SUCCEEDED');
    await stack.iot.send(new DeleteJobCommand({ jobId: 's-again', force: true }));
    await waitFor(() => statusOf(stack, 's-again', thing) === undefined, 's-again deleted');
    await createJob(stack, 's-again', thing, env);
    const replay = await settles('s-again', thing, 'REJECTED');
    expect(replay).toMatchObject({ 'ija:reason': 'replay' });
    expect(ran(setup, 's-again')).toBe(1);
  });

  it('kill -9 while the handler runs: after the restart the job is FAILED, never run a second time', async () => {
    const thing = 'signed-2';
    const { setup, start } = await signedAgent(thing);
    const first = start();
    await createJob(stack, 's-crash', thing, signedDoc('s-crash', thing, { ms: 120_000 }));
    await first.waitForLog((l: LogLine) => l.msg === 'job started' && l.jobId === 's-crash', 60_000);
    await waitFor(() => ran(setup, 's-crash') === 1, 'the handler ran');
    first.kill('SIGKILL');
    await first.exited;
    start();
    const d = await settles('s-crash', thing, 'FAILED');
    expect(d['reason']).toMatch(/interrupted/);
    expect(ran(setup, 's-crash')).toBe(1);
  });

  it('a 1970 wall clock: a valid envelope runs on the broker time, an expired one is REJECTED', async () => {
    const thing = 'signed-3';
    const clock = await FakeClock.create(join(stack.dir, 'signed-3.time'), '+0');
    const { setup, start } = await signedAgent(thing, clock.env());
    const agent = start();
    await agent.waitForLog((l) => l.msg === 'connected to the broker');
    await clock.set('@1970-01-02 00:00:00');
    await agent.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('the wall clock jumped'));

    await createJob(stack, 'c-valid', thing, signedDoc('c-valid', thing, {}));
    expect(await settles('c-valid', thing, 'SUCCEEDED')).toMatchObject({ 'ija:clock': 'broker' });
    const now = Math.floor(Date.now() / 1000);
    await createJob(stack, 'c-expired', thing, signedDoc('c-expired', thing, {}, { iat: now - 7200, exp: now - 600 }));
    expect(await settles('c-expired', thing, 'REJECTED')).toMatchObject({ 'ija:reason': 'expired' });
    expect(ran(setup, 'c-valid')).toBe(1);
    expect(ran(setup, 'c-expired')).toBe(0);
  });
});
