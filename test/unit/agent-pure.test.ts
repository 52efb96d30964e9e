import { judgeRejection } from '../../src/agent/outbox';
import { endingOf } from '../../src/agent/outcome';
import { sameExecution, stateOfAnother } from '../../src/agent/incarnation';
import { LIST_CAP, planReconcile, refKey } from '../../src/agent/reconcile';
import type { Past } from '../../src/agent/reconcile';
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
    // A job deleted and recreated under the same id: version 1 again, below the one ours was written against.
    ['recreated job: QUEUED below our version, never finished by our outcome', new JobsRejectedError('VersionMismatch', 'x', { status: 'QUEUED', versionNumber: 1 }), 'done-gone'],
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
const noneKnown = { isRunning: () => false, isReady: () => false, past: () => undefined };

describe('planReconcile', () => {
  it('enqueues new executions once, marks start-up IN_PROGRESS ones first, skips journaled ones', () => {
    const list: GetPendingAccepted = { timestamp: 1, inProgressJobs: [s('run')], queuedJobs: [s('a'), s('b'), s('a'), s('done')] };
    const plan = planReconcile('', list, { ...noneKnown, past: (r) => (r.jobId === 'done' ? { unreported: true } : undefined) }, [], [], true);
    // In listing order: the ready queue stamps discovery order from it.
    expect(plan.enqueue.map((c) => [c.jobId, c.resumeFirst ?? false])).toEqual([
      ['run', true],
      ['a', false],
      ['b', false],
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

  it('a running ref listed QUEUED (its job maybe deleted and recreated) is fetched again after the run; listed IN_PROGRESS it is not', () => {
    const key = (j: string) => refKey({ namespace: '', jobId: j, executionNumber: 1 });
    const running = { ...noneKnown, isRunning: (k: string) => k === key('again') || k === key('busy') };
    const plan = planReconcile('', { timestamp: 1, inProgressJobs: [s('busy')], queuedJobs: [s('again')] }, running, [], [key('again'), key('busy')], false);
    expect(plan.enqueue).toEqual([]);
    expect(plan.recheckAfterRun).toEqual([key('again')]);
  });
});

describe('planReconcile with retries (each executionNumber its own execution)', () => {
  it('enqueues a retry of a job whose first execution is journaled, done or running; never the same number twice', () => {
    const first = refKey({ namespace: '', jobId: 'r', executionNumber: 1 });
    const known = {
      ...noneKnown,
      past: (r: { jobId: string; executionNumber: number }) => (r.jobId === 'r' && r.executionNumber === 1 ? { queuedAt: 10, unreported: false } : undefined),
    };
    const plan = planReconcile('', { timestamp: 1, inProgressJobs: [], queuedJobs: [s('r', 2), s('r', 1)] }, known, [], [], false);
    expect(plan.enqueue.map((c) => [c.jobId, c.executionNumber])).toEqual([['r', 2]]);
    // Execution 1 still running when the listing shows only execution 2: confirm 1, enqueue 2.
    const racing = planReconcile('', { timestamp: 1, inProgressJobs: [], queuedJobs: [s('r', 2)] }, noneKnown, [], [first], false);
    expect(racing.confirmRunning).toEqual([first]);
    expect(racing.enqueue.map((c) => c.executionNumber)).toEqual([2]);
  });
});

describe('planReconcile with a recreated job (src/agent/incarnation.ts)', () => {
  const listed = (queuedAt: number, versionNumber: number): GetPendingAccepted => ({
    timestamp: 1,
    inProgressJobs: [],
    queuedJobs: [{ jobId: 'X', executionNumber: 1, queuedAt, lastUpdatedAt: queuedAt, versionNumber }],
  });
  const knownAs = (past: Past) => ({ ...noneKnown, past: () => past });
  it.each<[string, Past, GetPendingAccepted, 'skip' | 'supersede' | 'wait']>([
    ['same queuedAt and a version at least ours: the one it ran', { queuedAt: 10, versionNumber: 2, unreported: false }, listed(10, 3), 'skip'],
    ['same, its outcome still unreported', { queuedAt: 10, versionNumber: 2, unreported: true }, listed(10, 2), 'skip'],
    ['nothing remembered but that it ran: never again', { unreported: false }, listed(99, 1), 'skip'],
    ['another queuedAt: a new job behind the old id', { queuedAt: 10, versionNumber: 2, unreported: false }, listed(20, 1), 'supersede'],
    ['same second, but the version went back: a new job', { queuedAt: 10, versionNumber: 2, unreported: false }, listed(10, 1), 'supersede'],
    ['a new job while the old outcome is still in the outbox: wait for it', { queuedAt: 10, versionNumber: 2, unreported: true }, listed(20, 1), 'wait'],
  ])('%s', (_n, past, list, expected) => {
    const plan = planReconcile('', list, knownAs(past), [], [], false);
    const got = plan.enqueue.length > 0 ? (plan.enqueue[0]?.supersedes ? 'supersede' : 'fresh') : plan.waitForReport.length > 0 ? 'wait' : 'skip';
    expect(got).toBe(expected);
  });

  it('sameExecution and stateOfAnother agree on versions', () => {
    expect(sameExecution({ queuedAt: 5, versionNumber: 7 }, { queuedAt: 5, versionNumber: 2 })).toBe(true);
    expect(sameExecution({ queuedAt: 5, versionNumber: 1 }, { queuedAt: 5, versionNumber: 2 })).toBe(false);
    expect(sameExecution({ queuedAt: 6, versionNumber: 9 }, { queuedAt: 5 })).toBe(false);
    expect(stateOfAnother(3, { versionNumber: 1 })).toBe(true);
    expect(stateOfAnother(3, { versionNumber: 5 })).toBe(false);
    expect(stateOfAnother(undefined, { versionNumber: 1 })).toBe(false);
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
