import { orderExecutions } from '../../src/agent/order';
import type { Orderable } from '../../src/agent/order';

const e = (jobId: string, executionNumber: number, queuedAt: number, listedIndex: number, resumeFirst?: boolean): Orderable => ({
  jobId,
  executionNumber,
  queuedAt,
  listedIndex,
  ...(resumeFirst ? { resumeFirst } : {}),
});

describe('orderExecutions', () => {
  it.each<[string, Orderable[], string[]]>([
    ['queuedAt ascending', [e('b', 1, 20, 1), e('a', 1, 10, 0)], ['a', 'b']],
    ['executionNumber before queuedAt (retries run after first executions)', [e('retry', 2, 5, 0), e('new', 1, 50, 1)], ['new', 'retry']],
    ['same second: the service listing order', [e('z', 1, 10, 0), e('a', 1, 10, 1)], ['z', 'a']],
    ['full tie: jobId', [e('b', 1, 10, 0), e('a', 1, 10, 0)], ['a', 'b']],
    ['in progress at start-up first', [e('q', 1, 1, 0), e('running', 1, 99, 5, true)], ['running', 'q']],
    ['several resumed keep their own order', [e('r2', 1, 9, 1, true), e('r1', 1, 3, 0, true), e('q', 1, 1, 0)], ['r1', 'r2', 'q']],
    ['empty', [], []],
  ])('%s', (_name, input, expected) => {
    expect(orderExecutions(input).map((x) => x.jobId)).toEqual(expected);
  });

  it('does not modify its input and is a total order', () => {
    const input = [e('c', 3, 1, 2), e('a', 1, 2, 0), e('b', 1, 2, 1)];
    const copy = [...input];
    const out = orderExecutions(input);
    expect(input).toEqual(copy);
    expect(orderExecutions([...out].reverse())).toEqual(out);
  });
});

describe('orderExecutions across namespaces', () => {
  it('compares listing positions only within a namespace; across namespaces a tie falls to jobId', () => {
    const a = { jobId: 'b-default', executionNumber: 1, queuedAt: 10, listedIndex: 5, namespace: '' };
    const b = { jobId: 'a-fleet', executionNumber: 1, queuedAt: 10, listedIndex: 1, namespace: 'fleet' };
    const c = { jobId: 'c-default', executionNumber: 1, queuedAt: 10, listedIndex: 2, namespace: '' };
    expect(orderExecutions([a, b, c]).map((x) => x.jobId)).toEqual(['a-fleet', 'c-default', 'b-default']);
  });
});
