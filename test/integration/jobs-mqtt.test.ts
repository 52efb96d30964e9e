/**
 * The MQTT Jobs client against the local Jobs service through a real mosquitto over mTLS, with jobs
 * created by AWS's own control-plane client.
 */
import { CancelJobCommand, CreateJobCommand } from '@aws-sdk/client-iot';
import { MqttJobsClient } from '../../src/jobs/mqtt-client';
import { JobsRejectedError } from '../../src/jobs/errors';
import type { NotifyMsg, NotifyNextMsg } from '../../src/jobs/types';
import { MqttTransport } from '../../src/transport/mqtt-transport';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';

let stack: Stack;
const open: { t: MqttTransport; c: MqttJobsClient }[] = [];

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  for (const o of open) {
    await o.c.close();
    await o.t.close();
  }
  await stack.close();
});

async function device(thing: string, namespaces: string[] = []): Promise<MqttJobsClient> {
  const files = stack.pki.things[thing];
  if (!files) throw new Error(`no cert for ${thing}`);
  const t = new MqttTransport({
    host: '127.0.0.1',
    port: stack.broker.port,
    clientId: `${thing}-${open.length}`,
    protocolVersion: 4,
    alpn: false,
    keepAliveSeconds: 30,
    tls: { ...files, rootCaFile: stack.pki.caFile },
  });
  await t.connect();
  const c = new MqttJobsClient({ transport: t, thingName: thing, namespaces, timeoutMs: 5000 });
  await c.subscribe();
  open.push({ t, c });
  return c;
}

function nextEvent<T>(subscribe: (fn: (m: T, ns: string | undefined) => void) => () => void, pred: (m: T, ns: string | undefined) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const off = subscribe((m, ns) => {
      if (pred(m, ns)) {
        off();
        resolve(m);
      }
    });
  });
}

const createJob = (jobId: string, targets: string[], document: object, namespaceId?: string) =>
  stack.iot.send(new CreateJobCommand({ jobId, targets: targets.map((t) => `arn:aws:iot:us-east-1:123456789012:thing/${t}`), document: JSON.stringify(document), ...(namespaceId ? { namespaceId } : {}) }));

describe('MQTT Jobs client ↔ sim through mosquitto', () => {
  it('runs a full lifecycle with notifications', async () => {
    const c = await device('thing1');
    const idle = await c.getPending();
    expect(idle.inProgressJobs).toEqual([]);
    expect(idle.queuedJobs).toEqual([]);

    const notified = nextEvent<NotifyMsg>((fn) => c.onNotify(fn), (m) => (m.jobs.QUEUED ?? []).some((j) => j.jobId === 'life-1'));
    const nextNotified = nextEvent<NotifyNextMsg>((fn) => c.onNotifyNext(fn), (m) => m.execution?.jobId === 'life-1');
    await createJob('life-1', ['thing1'], { operation: 'noop', n: 1 });
    await notified;
    const nn = await nextNotified;
    expect(nn.execution).toMatchObject({ status: 'QUEUED', versionNumber: 1, jobDocument: { operation: 'noop', n: 1 } });

    const next = await c.describe('$next');
    expect(next.execution?.jobId).toBe('life-1');
    await c.update('life-1', { status: 'IN_PROGRESS', expectedVersion: 1, statusDetails: { step: 'one' } });
    const desc = await c.describe('life-1', { includeJobDocument: true });
    expect(desc.execution).toMatchObject({ status: 'IN_PROGRESS', versionNumber: 2, statusDetails: { step: 'one' } });
    expect(typeof desc.execution?.startedAt).toBe('number');

    const emptied = nextEvent<NotifyNextMsg>((fn) => c.onNotifyNext(fn), (m) => m.execution === undefined);
    const accepted = await c.update('life-1', { status: 'SUCCEEDED', expectedVersion: 2, includeJobExecutionState: true });
    expect(accepted.executionState).toMatchObject({ status: 'SUCCEEDED', versionNumber: 3 });
    await emptied;

    // A duplicate of the terminal update (lost response, retry) shows the stored state.
    const dup = await c.update('life-1', { status: 'SUCCEEDED', expectedVersion: 2 }).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(JobsRejectedError);
    expect((dup as JobsRejectedError).executionState?.status).toBe('SUCCEEDED');
  });

  it('start-next hands out the head and is idempotent while it runs', async () => {
    const c = await device('thing2');
    await createJob('sn-1', ['thing2'], { operation: 'noop' });
    await createJob('sn-2', ['thing2'], { operation: 'noop' });
    const a = await c.startNext({ statusDetails: { by: 'test' } });
    expect(a.execution).toMatchObject({ jobId: 'sn-1', status: 'IN_PROGRESS', versionNumber: 2 });
    const again = await c.startNext();
    expect(again.execution).toMatchObject({ jobId: 'sn-1', versionNumber: 2 });
    await c.update('sn-1', { status: 'FAILED', expectedVersion: 2 });
    const b = await c.startNext();
    expect(b.execution?.jobId).toBe('sn-2');
    await c.update('sn-2', { status: 'SUCCEEDED' });
  });

  it('typed rejections: unknown job, invalid details, version mismatch', async () => {
    const c = await device('thing1');
    await expect(c.update('does-not-exist', { status: 'SUCCEEDED' })).rejects.toMatchObject({ rejectCode: 'ResourceNotFound' });
    await createJob('rej-1', ['thing1'], { operation: 'noop' });
    await expect(c.update('rej-1', { status: 'IN_PROGRESS', statusDetails: { k: 'bad\u0007value' } })).rejects.toMatchObject({ rejectCode: 'InvalidRequest' });
    await expect(c.update('rej-1', { status: 'IN_PROGRESS', expectedVersion: 7 })).rejects.toMatchObject({ rejectCode: 'VersionMismatch', executionState: { status: 'QUEUED', versionNumber: 1 } });
    await c.update('rej-1', { status: 'REJECTED', statusDetails: { reason: 'test' } });
  });

  it('force-cancel while running is seen as notify-next without the job and a terminal describe', async () => {
    const c = await device('thing1');
    await createJob('fc-1', ['thing1'], { operation: 'noop' });
    await c.update('fc-1', { status: 'IN_PROGRESS', expectedVersion: 1 });
    const gone = nextEvent<NotifyNextMsg>((fn) => c.onNotifyNext(fn), (m) => m.execution?.jobId !== 'fc-1');
    await stack.iot.send(new CancelJobCommand({ jobId: 'fc-1', force: true }));
    await gone;
    const d = await c.describe('fc-1');
    expect(d.execution?.status).toBe('CANCELED');
    await expect(c.update('fc-1', { status: 'SUCCEEDED' })).rejects.toMatchObject({ rejectCode: 'InvalidStateTransition', executionState: { status: 'CANCELED' } });
  });

  it('namespaced jobs use their own topics and pending order', async () => {
    const c = await device('thing2', ['fleet']);
    const notified = nextEvent<NotifyMsg>((fn) => c.onNotify(fn), (_m, ns) => ns === 'fleet');
    await createJob('ns-1', ['thing2'], { operation: 'noop' }, 'fleet');
    await notified;
    const plain = await c.describe('$next');
    expect(plain.execution?.jobId).not.toBe('ns-1');
    const inNs = await c.describe('$next', {}, { namespace: 'fleet' });
    expect(inNs.execution?.jobId).toBe('ns-1');
    await c.update('ns-1', { status: 'SUCCEEDED' }, { namespace: 'fleet' });
  });

  it('thing1 cannot see thing2 jobs', async () => {
    const spy = await device('thing1');
    const seen: string[] = [];
    spy.onNotify((m) => seen.push(...(m.jobs.QUEUED ?? []).map((j) => j.jobId)));
    const owner = await device('thing2');
    const ownerSaw = nextEvent<NotifyMsg>((fn) => owner.onNotify(fn), (m) => (m.jobs.QUEUED ?? []).some((j) => j.jobId === 'private-2'));
    await createJob('private-2', ['thing2'], { operation: 'secret' });
    await ownerSaw;
    // thing1 publishing a request on thing2's topics gets nothing back (the broker ACL drops it).
    const t1 = open.find((o) => o.c === spy)?.t;
    await t1?.publish('$aws/things/thing2/jobs/get', JSON.stringify({ clientToken: 'x' }), 0).catch(() => undefined);
    const own = await spy.getPending();
    expect([...own.queuedJobs, ...own.inProgressJobs].map((j) => j.jobId)).not.toContain('private-2');
    expect(seen).not.toContain('private-2');
  });
});
