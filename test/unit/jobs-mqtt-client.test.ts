import { EventEmitter } from 'node:events';
import { MqttJobsClient } from '../../src/jobs/mqtt-client';
import { JobsRejectedError, InvalidJobsRequestError } from '../../src/jobs/errors';
import { TimeoutError } from '../../src/lib/errors';
import type { IncomingMessage, QoS, Transport } from '../../src/transport/types';

/** A loopback transport: records publishes; the test plays the service by injecting messages. */
class FakeTransport extends EventEmitter implements Transport {
  restart(): void {}
  connected = true;
  published: { topic: string; payload: Record<string, unknown> }[] = [];
  subscribed: string[][] = [];
  connect(): Promise<void> {
    return Promise.resolve();
  }
  subscribe(filters: string[], _qos?: QoS): Promise<void> {
    this.subscribed.push(filters);
    return Promise.resolve();
  }
  unsubscribe(): Promise<void> {
    return Promise.resolve();
  }
  publish(topic: string, payload: string | Buffer): Promise<void> {
    this.published.push({ topic, payload: JSON.parse(payload.toString()) as Record<string, unknown> });
    this.emit('published');
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  deliver(topic: string, payload: unknown): void {
    const m: IncomingMessage = { topic, payload: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)) };
    this.emit('message', m);
  }
  last(): { topic: string; payload: Record<string, unknown> } {
    const p = this.published[this.published.length - 1];
    if (!p) throw new Error('nothing published');
    return p;
  }
}

function setup(extra: Partial<ConstructorParameters<typeof MqttJobsClient>[0]> = {}) {
  const t = new FakeTransport();
  const c = new MqttJobsClient({ transport: t, thingName: 't1', timeoutMs: 200, ...extra });
  return { t, c };
}

describe('MqttJobsClient', () => {
  it('subscribes in batches of at most 8, including namespaced forms', async () => {
    const { t, c } = setup({ namespaces: ['ns1'] });
    await c.subscribe();
    expect(t.subscribed.every((b) => b.length <= 8)).toBe(true);
    const all = t.subscribed.flat();
    expect(all).toEqual(expect.arrayContaining(['$aws/things/t1/jobs/notify', '$aws/things/t1/jobs/notify-namespace-ns1', '$aws/things/t1/jobs/+/notify-namespace-ns1/', '$aws/things/t1/jobs/+/namespace-ns1/update/+']));
  });

  it('correlates accepted responses by clientToken, ignoring others', async () => {
    const { t, c } = setup();
    const p = c.getPending();
    const { topic, payload } = t.last();
    expect(topic).toBe('$aws/things/t1/jobs/get');
    t.deliver(`${topic}/accepted`, { clientToken: 'someone-else', timestamp: 1, inProgressJobs: [], queuedJobs: [] });
    t.deliver(`${topic}/accepted`, { clientToken: payload.clientToken, timestamp: 2, inProgressJobs: [], queuedJobs: [{ jobId: 'j', queuedAt: 1, lastUpdatedAt: 1, versionNumber: 1, executionNumber: 1 }] });
    await expect(p).resolves.toMatchObject({ timestamp: 2, queuedJobs: [{ jobId: 'j' }] });
  });

  it('turns a rejection into a typed error keeping executionState', async () => {
    const { t, c } = setup();
    const p = c.update('job1', { status: 'SUCCEEDED', expectedVersion: 3 });
    const { topic, payload } = t.last();
    expect(topic).toBe('$aws/things/t1/jobs/job1/update');
    t.deliver(`${topic}/rejected`, { code: 'VersionMismatch', clientToken: payload.clientToken, timestamp: 1, executionState: { status: 'SUCCEEDED', versionNumber: 4 } });
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobsRejectedError);
    expect(err).toMatchObject({ rejectCode: 'VersionMismatch', retryable: false, executionState: { status: 'SUCCEEDED', versionNumber: 4 } });
  });

  it.each(['RequestThrottled', 'InternalError'])('marks %s retryable', async (code) => {
    const { t, c } = setup();
    const p = c.startNext();
    t.deliver(`${t.last().topic}/rejected`, { code, clientToken: t.last().payload.clientToken, timestamp: 1 });
    await expect(p).rejects.toMatchObject({ retryable: true });
  });

  it('drops a malformed response and times out instead of resolving with garbage', async () => {
    const { t, c } = setup();
    const p = c.describe('$next');
    expect(t.last().topic).toBe('$aws/things/t1/jobs/$next/get');
    t.deliver(`${t.last().topic}/accepted`, { clientToken: t.last().payload.clientToken, execution: { jobId: 5 } });
    t.deliver(`${t.last().topic}/accepted`, 'not json');
    await expect(p).rejects.toBeInstanceOf(TimeoutError);
  });

  it('uses namespaced topics', async () => {
    const { t, c } = setup({ namespaces: ['ns1'] });
    const p = c.update('j1', { status: 'IN_PROGRESS' }, { namespace: 'ns1' });
    expect(t.last().topic).toBe('$aws/things/t1/jobs/j1/namespace-ns1/update');
    t.deliver(`${t.last().topic}/accepted`, { clientToken: t.last().payload.clientToken, timestamp: 1 });
    await expect(p).resolves.toEqual({ clientToken: expect.any(String) as string, timestamp: 1 });
  });

  it('refuses invalid ids before sending anything', () => {
    const { t, c } = setup();
    expect(() => c.update('../x', { status: 'FAILED' })).toThrow(InvalidJobsRequestError);
    expect(() => c.describe('a/b')).toThrow(InvalidJobsRequestError);
    expect(t.published).toHaveLength(0);
  });

  it('fans out notify and notify-next with their namespace, dropping invalid ones', () => {
    const { t, c } = setup({ namespaces: ['ns1'] });
    const seen: unknown[] = [];
    c.onNotify((m, ns) => seen.push(['notify', ns, m.jobs]));
    c.onNotifyNext((m, ns) => seen.push(['next', ns, m.execution?.jobId]));
    t.deliver('$aws/things/t1/jobs/notify', { timestamp: 1, jobs: {} });
    t.deliver('$aws/things/t1/jobs/notify-namespace-ns1', { timestamp: 1, jobs: { QUEUED: [] } });
    t.deliver('$aws/things/t1/jobs/j9/notify-namespace-ns1/', { timestamp: 1, jobs: {} });
    t.deliver('$aws/things/t1/jobs/notify-next', { timestamp: 1, execution: { jobId: 'a', status: 'QUEUED', queuedAt: 1, lastUpdatedAt: 1, versionNumber: 1, executionNumber: 1 } });
    t.deliver('$aws/things/t1/jobs/notify-next', { timestamp: 1, execution: { jobId: 'a', status: 'BOGUS' } });
    t.deliver('$aws/things/t1/jobs/notify', { jobs: { DONE: [] } });
    t.deliver('$aws/things/t1/jobs/notify', '[1,2]');
    expect(seen).toEqual([
      ['notify', undefined, {}],
      ['notify', 'ns1', { QUEUED: [] }],
      ['notify', 'ns1', {}],
      ['next', undefined, 'a'],
    ]);
  });

  it('a throwing listener does not break delivery', () => {
    const { t, c } = setup();
    let n = 0;
    c.onNotify(() => {
      throw new Error('boom');
    });
    c.onNotifyNext(() => (n += 1));
    expect(() => t.deliver('$aws/things/t1/jobs/notify', { timestamp: 1, jobs: {} })).not.toThrow();
    t.deliver('$aws/things/t1/jobs/notify-next', { timestamp: 1 });
    expect(n).toBe(1);
  });

  it('close rejects outstanding requests', async () => {
    const { c } = setup();
    const p = c.getPending();
    await c.close();
    await expect(p).rejects.toMatchObject({ code: 'Aborted' });
  });
});
