import { judgeRejection } from '../../src/agent/outbox';
import { endingOf } from '../../src/agent/outcome';
import { LIST_CAP, planReconcile, refKey } from '../../src/agent/reconcile';
import { recoveryPlan } from '../../src/agent/recovery';
import { mapRegistry } from '../../src/agent/registry';
import { formatLine } from '../../src/cli/pretty';
import { JobsRejectedError } from '../../src/jobs/errors';
import { RejectError, HandlerFailure } from '../../src/handlers/errors';
import { TimeoutError } from '../../src/lib/errors';
import type { JobHandler } from '../../src/handlers/api';
import type { GetPendingAccepted, JobExecutionSummary } from '../../src/jobs/types';
import type { JournalEntry, OutboxItem } from '../../src/store/types';

const item: OutboxItem = { namespace: '', jobId: 'j', executionNumber: 1, seq: 1, status: 'SUCCEEDED', expectedVersion: 3, enqueuedAt: 0 };

describe('judgeRejection (what a refused status update means)', () => {
  it.each<[string, unknown, unknown]>([
    ['duplicate: stored state already shows our status', new JobsRejectedError('VersionMismatch', 'x', { status: 'SUCCEEDED', versionNumber: 4 }), 'done-already'],
    ['terminal update of a terminal execution showing our status', new JobsRejectedError('InvalidStateTransition', 'x', { status: 'SUCCEEDED', versionNumber: 4 }), 'done-already'],
    ['version moved on while still running (progress raced)', new JobsRejectedError('VersionMismatch', 'x', { status: 'IN_PROGRESS', versionNumber: 7 }), { retryWithVersion: 7 }],
    ['HTTPS version mismatch arrives as InvalidStateTransition', new JobsRejectedError('InvalidStateTransition', 'x', { status: 'IN_PROGRESS', versionNumber: 5 }), { retryWithVersion: 5 }],
    ['canceled meanwhile', new JobsRejectedError('VersionMismatch', 'x', { status: 'CANCELED', versionNumber: 5 }), 'done-gone'],
    ['terminal (other reading)', new JobsRejectedError('TerminalStateReached', 'x'), 'done-gone'],
    ['deleted', new JobsRejectedError('ResourceNotFound', 'x'), 'done-gone'],
    ['throttled', new JobsRejectedError('RequestThrottled', 'x'), 'retry'],
    ['internal error', new JobsRejectedError('InternalError', 'x'), 'retry'],
    ['timeout', new TimeoutError('update', 10), 'retry'],
    ['unsendable as written', new JobsRejectedError('InvalidRequest', 'x'), 'done-gone'],
  ])('%s', (_n, err, verdict) => {
    expect(judgeRejection(item, err)).toEqual(verdict);
  });
});

describe('endingOf (the one mapping from handler endings to statuses)', () => {
  it.each<[string, Parameters<typeof endingOf>, unknown]>([
    ['success', [{ ok: true, value: { status: 'SUCCEEDED', details: { a: 'b' } } }, undefined, 'fail'], { kind: 'report', status: 'SUCCEEDED', details: { a: 'b' } }],
    ['failure result', [{ ok: true, value: { status: 'FAILED' } }, undefined, 'fail'], { kind: 'report', status: 'FAILED', details: {} }],
    ['bogus result', [{ ok: true, value: { status: 'MAYBE' } as never }, undefined, 'fail'], { kind: 'report', status: 'FAILED', details: { reason: 'handler returned no valid status' } }],
    ['RejectError → REJECTED', [{ ok: false, error: new RejectError('bad doc') }, undefined, 'fail'], { kind: 'report', status: 'REJECTED', details: { reason: 'bad doc' } }],
    ['HandlerFailure keeps details', [{ ok: false, error: new HandlerFailure('boom', { details: { exit: '1' } }) }, undefined, 'fail'], { kind: 'report', status: 'FAILED', details: { exit: '1', reason: 'boom' } }],
    ['timeout', [{ ok: false, error: new Error('aborted') }, 'timeout', 'rerun'], { kind: 'report', status: 'FAILED', details: { reason: 'timeout' } }],
    ['canceled', [{ ok: false, error: new Error('aborted') }, 'canceled', 'fail'], { kind: 'gone' }],
    ['shutdown, fail policy', [{ ok: false, error: new Error('aborted') }, 'shutdown', 'fail'], { kind: 'report', status: 'FAILED', details: { reason: 'interrupted' } }],
    ['shutdown, resume policy', [{ ok: false, error: new Error('aborted') }, 'shutdown', 'resume'], { kind: 'deferred' }],
  ])('%s', (_n, args, expected) => {
    expect(endingOf(...args)).toEqual(expected);
  });
});

const s = (jobId: string, executionNumber = 1, queuedAt = 10): JobExecutionSummary => ({ jobId, executionNumber, queuedAt, lastUpdatedAt: queuedAt, versionNumber: 1 });
const noneKnown = { isRunning: () => false, isReady: () => false, isDone: () => false, journal: () => undefined };

describe('planReconcile', () => {
  it('enqueues new executions once, marks start-up IN_PROGRESS ones first, skips journaled ones', () => {
    const list: GetPendingAccepted = { timestamp: 1, inProgressJobs: [s('run')], queuedJobs: [s('a'), s('b'), s('a'), s('done')] };
    const journaled: JournalEntry = { namespace: '', jobId: 'done', executionNumber: 1, handler: 'h', state: 'finished', startedAt: 1 };
    const plan = planReconcile('', list, { ...noneKnown, journal: (r) => (r.jobId === 'done' ? journaled : undefined) }, [], [], true);
    expect(plan.enqueue.map((c) => [c.jobId, c.resumeFirst ?? false, c.listedIndex])).toEqual([
      ['run', true, 0],
      ['a', false, 1],
      ['b', false, 2],
    ]);
  });

  it('drops vanished queued candidates and confirms vanished running ones, per namespace, unless the list may be cut', () => {
    const key = (ns: string, j: string) => refKey({ namespace: ns, jobId: j, executionNumber: 1 });
    const plan = planReconcile('ns', { timestamp: 1, inProgressJobs: [], queuedJobs: [s('kept')] }, noneKnown, [key('ns', 'kept'), key('ns', 'gone'), key('', 'other')], [key('ns', 'running'), key('', 'x')], false);
    expect(plan.dropReady).toEqual([key('ns', 'gone')]);
    expect(plan.confirmRunning).toEqual([key('ns', 'running')]);
    const full = Array.from({ length: LIST_CAP }, (_, i) => s(`q${i}`));
    const cut = planReconcile('ns', { timestamp: 1, inProgressJobs: [], queuedJobs: full }, noneKnown, [key('ns', 'beyond')], [], false);
    expect(cut.truncated).toBe(true);
    expect(cut.dropReady).toEqual([]);
  });
});

describe('planReconcile with retries (each executionNumber its own execution)', () => {
  it('enqueues a retry of a job whose first execution is journaled, done or running; never the same number twice', () => {
    const first = refKey({ namespace: '', jobId: 'r', executionNumber: 1 });
    const reported: JournalEntry = { namespace: '', jobId: 'r', executionNumber: 1, handler: 'h', state: 'reported', startedAt: 1 };
    const known = {
      ...noneKnown,
      isDone: (k: string) => k === first,
      journal: (r: { jobId: string; executionNumber: number }) => (r.jobId === 'r' && r.executionNumber === 1 ? reported : undefined),
    };
    const plan = planReconcile('', { timestamp: 1, inProgressJobs: [], queuedJobs: [s('r', 2), s('r', 1)] }, known, [], [], false);
    expect(plan.enqueue.map((c) => [c.jobId, c.executionNumber])).toEqual([['r', 2]]);
    // Execution 1 still running when the listing shows only execution 2: confirm 1, enqueue 2.
    const racing = planReconcile('', { timestamp: 1, inProgressJobs: [], queuedJobs: [s('r', 2)] }, noneKnown, [], [first], false);
    expect(racing.confirmRunning).toEqual([first]);
    expect(racing.enqueue.map((c) => c.executionNumber)).toEqual([2]);
  });
});

describe('recoveryPlan', () => {
  const h = (name: string, restartPolicy?: JobHandler['restartPolicy']): JobHandler => ({ name, ...(restartPolicy ? { restartPolicy } : {}), run: () => Promise.resolve({ status: 'SUCCEEDED' }) });
  const registry = mapRegistry(new Map([['f', h('f')], ['r', h('r', 'rerun')], ['s', h('s', 'resume')]]));
  const e = (jobId: string, handler: string, state: JournalEntry['state'], startedAt: number): JournalEntry => ({ namespace: '', jobId, executionNumber: 1, handler, state, startedAt });
  it('fails interrupted fail-policy (and unknown) handlers, reruns/resumes the others, ignores finished', () => {
    const plan = recoveryPlan([e('a', 'f', 'started', 3), e('b', 'r', 'started', 2), e('c', 's', 'started', 1), e('d', 'gone-handler', 'started', 4), e('z', 'f', 'finished', 0)], registry);
    expect(plan.fail.map((x) => x.jobId)).toEqual(['a', 'd']);
    expect(plan.resume.map((c) => [c.jobId, c.mode])).toEqual([
      ['c', 'resume'],
      ['b', 'rerun'],
    ]);
  });
});

describe('--log-pretty', () => {
  it('turns a JSON log line into a readable one and leaves other text alone', () => {
    expect(formatLine('{"level":"info","time":"2026-11-25T10:11:12.000Z","msg":"job started","jobId":"j1"}')).toBe('10:11:12 INFO  job started  jobId=j1');
    expect(formatLine('plain')).toBe('plain');
  });
});
