/** The dispatch order: the comparator's table, and the ready queue across namespaces. */
import { compareExecutions, orderExecutions } from '../../src/agent/order';
import type { Sequenced } from '../../src/agent/order';
import { ReadyQueue } from '../../src/agent/ready';
import type { Candidate } from '../../src/agent/execution';

const e = (jobId: string, executionNumber: number, queuedAt: number, seen: number, resumeFirst?: boolean): Sequenced => ({
  jobId,
  executionNumber,
  queuedAt,
  seen,
  ...(resumeFirst ? { resumeFirst } : {}),
});

describe('compareExecutions', () => {
  it.each<[string, Sequenced[], string[]]>([
    ['queuedAt ascending', [e('b', 1, 20, 1), e('a', 1, 10, 2)], ['a', 'b']],
    ['executionNumber before queuedAt (retries run after first executions)', [e('retry', 2, 5, 1), e('new', 1, 50, 2)], ['new', 'retry']],
    ['same second: the order the agent learned of them, not the jobId', [e('z', 1, 10, 1), e('a', 1, 10, 2)], ['z', 'a']],
    ['in progress at start-up first', [e('q', 1, 1, 1), e('running', 1, 99, 5, true)], ['running', 'q']],
    ['several resumed keep their own order', [e('r2', 1, 9, 2, true), e('r1', 1, 3, 1, true), e('q', 1, 1, 3)], ['r1', 'r2', 'q']],
    ['empty', [], []],
  ])('%s', (_name, input, expected) => {
    expect(orderExecutions(input).map((x) => x.jobId)).toEqual(expected);
  });

  it('does not modify its input', () => {
    const input = [e('c', 3, 1, 3), e('a', 1, 2, 1), e('b', 1, 2, 2)];
    const copy = [...input];
    const out = orderExecutions(input);
    expect(input).toEqual(copy);
    expect(orderExecutions([...out].reverse())).toEqual(out);
  });

  it('has no cycle across namespaces (the reported zz / aa / mm case)', () => {
    // Created zz, then aa (default) and mm (nsa), all in one second.
    const zz = { ...e('zz', 1, 10, 1), namespace: '' };
    const aa = { ...e('aa', 1, 10, 2), namespace: '' };
    const mm = { ...e('mm', 1, 10, 3), namespace: 'nsa' };
    expect(compareExecutions(zz, aa)).toBeLessThan(0);
    expect(compareExecutions(aa, mm)).toBeLessThan(0);
    expect(compareExecutions(zz, mm)).toBeLessThan(0);
  });
});

const c = (namespace: string, jobId: string, queuedAt = 10, executionNumber = 1): Candidate => ({ namespace, jobId, executionNumber, queuedAt, mode: 'fresh' });
const drain = (q: ReadyQueue<Candidate>): string[] => {
  const out: string[] = [];
  for (let n = q.takeNext(); n; n = q.takeNext()) out.push(`${n.namespace}/${n.jobId}`);
  return out;
};

describe('ReadyQueue', () => {
  it('keeps each namespace in discovery order and takes the first head (the reported kernel / firmware / fleet case)', () => {
    const q = new ReadyQueue<Candidate>();
    for (const j of ['kernel', 'firmware', 'config', 'long']) q.add(c('', j));
    q.add(c('nsa', 'fleet'));
    expect(drain(q)).toEqual(['/kernel', '/firmware', '/config', '/long', 'nsa/fleet']);
  });

  it('breaks a same-second tie between namespaces by which it learned of first', () => {
    const q = new ReadyQueue<Candidate>();
    q.add(c('', 'zz'));
    q.add(c('nsa', 'mm'));
    q.add(c('', 'aa'));
    expect(drain(q)).toEqual(['/zz', 'nsa/mm', '/aa']);
  });

  it('re-sequences what it holds in configuration order when dispatch begins', () => {
    const q = new ReadyQueue<Candidate>();
    // The namespaces' first listings answered in the opposite order of the configuration.
    q.add(c('nsb', 'b1'));
    q.add(c('nsa', 'a1'));
    q.add(c('', 'd1'));
    q.add(c('nsa', 'a2'));
    q.add(c('', 'd2'));
    q.resequence(['', 'nsa', 'nsb']);
    q.add(c('nsb', 'b2'));
    expect(drain(q)).toEqual(['/d1', '/d2', 'nsa/a1', 'nsa/a2', 'nsb/b1', 'nsb/b2']);
  });

  it('orders by executionNumber, then queuedAt, before discovery; refuses a key it holds; forgets deleted ones', () => {
    const q = new ReadyQueue<Candidate>();
    expect(q.add(c('', 'late', 30))).toBe(true);
    expect(q.add(c('', 'retry', 5, 2))).toBe(true);
    expect(q.add(c('', 'early', 20))).toBe(true);
    expect(q.add(c('', 'early', 20))).toBe(false);
    q.add(c('x', 'gone', 1));
    expect(q.hasNamespace('x')).toBe(true);
    expect(q.delete('x\u0000gone\u00001')).toBe(true);
    expect(q.hasNamespace('x')).toBe(false);
    expect(q.size).toBe(3);
    expect(drain(q)).toEqual(['/early', '/late', '/retry']);
    expect(q.size).toBe(0);
  });

  it('puts a candidate that could not start back in its own place, and passes over a held line whole', () => {
    const q = new ReadyQueue<Candidate>();
    q.add(c('', 'n1', 10));
    q.add(c('', 'n2', 10));
    q.add(c('ns', 'other', 11));
    const first = q.takeNext();
    expect(first?.jobId).toBe('n1');
    // Found after n1 but in the same second: only its discovery number keeps n1 ahead of it.
    q.add(c('', 'n3', 10));
    expect(q.putBack(first as NonNullable<typeof first>)).toBe(true);
    expect(q.putBack(first as NonNullable<typeof first>)).toBe(false);
    const held = (ns: string): boolean => ns === '';
    expect(q.takeNext(held)?.jobId).toBe('other');
    expect(q.takeNext(held)).toBeUndefined();
    expect(q.size).toBe(3);
    expect(drain(q)).toEqual(['/n1', '/n2', '/n3']);
  });
});
