import { OutboxSender } from '../../src/agent/outbox';
import { JobsRejectedError } from '../../src/jobs/errors';
import type { JobsApi } from '../../src/jobs/api';
import type { UpdateReq } from '../../src/jobs/types';
import { silentLogger } from '../../src/lib/log';
import type { ExecRef, OutboxItem, StateStore } from '../../src/store/types';

/** An in-memory outbox (the durable one has its own tests); only what the sender uses. */
function memoryStore(items: OutboxItem[]): StateStore & { reported: ExecRef[] } {
  const outbox = [...items];
  const reported: ExecRef[] = [];
  return {
    reported,
    pending: () => [...outbox],
    ack: (seq: number) => {
      const i = outbox.findIndex((x) => x.seq === seq);
      if (i >= 0) outbox.splice(i, 1);
      return Promise.resolve();
    },
    // Like the durable store: `reported` also takes the execution's items out of the outbox.
    markReported: (r: ExecRef) => {
      reported.push(r);
      for (let i = outbox.length - 1; i >= 0; i--) {
        const x = outbox[i];
        if (x && x.namespace === r.namespace && x.jobId === r.jobId && x.executionNumber === r.executionNumber) outbox.splice(i, 1);
      }
      return Promise.resolve();
    },
  } as unknown as StateStore & { reported: ExecRef[] };
}

const item = (jobId: string, seq: number, status: OutboxItem['status'] = 'SUCCEEDED', expectedVersion = 2): OutboxItem => ({ namespace: '', jobId, executionNumber: 1, seq, status, expectedVersion, enqueuedAt: 0 });

function sender(store: StateStore, update: (jobId: string, req: Omit<UpdateReq, 'clientToken'>) => Promise<unknown>) {
  const api = { update } as unknown as JobsApi;
  return new OutboxSender({ store, apiFor: () => api, log: silentLogger(), isOnline: () => true, timeoutMs: 1000 });
}

describe('OutboxSender', () => {
  it('sends in order, one at a time, and empties the outbox', async () => {
    const store = memoryStore([item('a', 1), item('b', 2), item('c', 3)]);
    const sent: string[] = [];
    let inFlight = 0;
    const s = sender(store, async (jobId) => {
      inFlight += 1;
      expect(inFlight).toBe(1);
      sent.push(jobId);
      await Promise.resolve();
      inFlight -= 1;
      return {};
    });
    expect(await s.flush(5000)).toBe(true);
    expect(sent).toEqual(['a', 'b', 'c']);
    expect(store.reported.map((r) => r.jobId)).toEqual(['a', 'b', 'c']);
    s.stop();
  });

  it('catches up with a moved version once, and drops an update refused at the current version', async () => {
    const store = memoryStore([item('moved', 1), item('refused', 2, 'REJECTED', 5), item('next', 3)]);
    const calls: [string, unknown][] = [];
    const s = sender(store, (jobId, req) => {
      calls.push([jobId, req.expectedVersion]);
      if (jobId === 'moved' && req.expectedVersion === 2) return Promise.reject(new JobsRejectedError('VersionMismatch', 'x', { status: 'IN_PROGRESS', versionNumber: 4 }));
      if (jobId === 'refused') return Promise.reject(new JobsRejectedError('InvalidStateTransition', 'x', { status: 'IN_PROGRESS', versionNumber: 5 }));
      return Promise.resolve({});
    });
    expect(await s.flush(5000)).toBe(true);
    expect(calls).toEqual([
      ['moved', 2],
      ['moved', 4],
      ['refused', 5],
      ['next', 2],
    ]);
    s.stop();
  });

  it('retries transient failures with backoff until accepted', async () => {
    const store = memoryStore([item('t', 1)]);
    let n = 0;
    const s = sender(store, () => (++n < 3 ? Promise.reject(new JobsRejectedError('RequestThrottled', 'slow down')) : Promise.resolve({})));
    expect(await s.flush(10_000)).toBe(true);
    expect(n).toBe(3);
    s.stop();
  });
});
