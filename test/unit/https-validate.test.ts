/** The HTTPS client's pre-send validation (docs/PROTOCOL.md §6.3): pure functions, tested by table. */
import { checkDescribe, checkNamespace, checkStartNext, checkUpdate } from '../../src/jobs/https-client';
import { InvalidJobsRequestError } from '../../src/jobs/errors';
import type { UpdateReq } from '../../src/jobs/types';

type Upd = Omit<UpdateReq, 'clientToken'>;

describe('checkNamespace', () => {
  it.each(['ns', 'a_b-C9', undefined])('accepts %s', (ns) => expect(() => checkNamespace(ns)).not.toThrow());
  it.each(['', 'a b', 'ns/1', 'ns:1', 'ü'])('refuses %j', (ns) => expect(() => checkNamespace(ns)).toThrow(InvalidJobsRequestError));
});

describe('checkDescribe', () => {
  it('accepts job ids, $next and execution numbers', () => {
    expect(() => checkDescribe('job-1', { executionNumber: 3, includeJobDocument: false }, 'ns')).not.toThrow();
    expect(() => checkDescribe('$next', {}, undefined)).not.toThrow();
    expect(() => checkDescribe('x'.repeat(64), {}, undefined)).not.toThrow();
  });
  it.each([
    ['x'.repeat(65), {}, undefined],
    ['bad id', {}, undefined],
    ['$next', {}, 'ns'],
    ['j', { executionNumber: -1 }, undefined],
    ['j', { executionNumber: 1.5 }, undefined],
    ['j', {}, 'bad ns'],
  ] as const)('refuses %s %j %s', (jobId, req, ns) => {
    expect(() => checkDescribe(jobId, req, ns)).toThrow(InvalidJobsRequestError);
  });
});

describe('checkStartNext', () => {
  it('accepts details and step timeouts in range', () => {
    expect(() => checkStartNext({ statusDetails: { 'k:1_-': 'v' }, stepTimeoutInMinutes: 10080 }, undefined)).not.toThrow();
  });
  it.each([
    [{ stepTimeoutInMinutes: 0 }, undefined],
    [{ stepTimeoutInMinutes: -1 }, undefined],
    [{ stepTimeoutInMinutes: 10081 }, undefined],
    [{}, 'ns'],
    [{ statusDetails: { '': 'v' } }, undefined],
  ] as const)('refuses %j %s', (req, ns) => {
    expect(() => checkStartNext(req, ns)).toThrow(InvalidJobsRequestError);
  });
});

describe('checkUpdate', () => {
  it('builds the HTTPS body with expectedVersion as a number', () => {
    const body = checkUpdate(
      'job-1',
      { status: 'SUCCEEDED', expectedVersion: '7', statusDetails: { a: 'b' }, executionNumber: 2, stepTimeoutInMinutes: -1, includeJobDocument: true, includeJobExecutionState: false },
      undefined,
    );
    expect(body).toEqual({
      status: 'SUCCEEDED',
      expectedVersion: 7,
      statusDetails: { a: 'b' },
      executionNumber: 2,
      stepTimeoutInMinutes: -1,
      includeJobDocument: true,
      includeJobExecutionState: false,
    });
    expect(checkUpdate('j', { status: 'FAILED' }, 'ns')).toEqual({ status: 'FAILED' });
  });

  it.each<[string, Upd]>([
    ['$next', { status: 'SUCCEEDED' }],
    ['bad id', { status: 'SUCCEEDED' }],
    ['j', { status: 'QUEUED' as never }],
    ['j', { status: 'CANCELED' as never }],
    ['j', { status: 'FAILED', expectedVersion: 'seven' }],
    ['j', { status: 'FAILED', expectedVersion: -1 }],
    ['j', { status: 'FAILED', expectedVersion: 1.5 }],
    ['j', { status: 'FAILED', stepTimeoutInMinutes: 0 }],
    ['j', { status: 'FAILED', executionNumber: -3 }],
    ['j', { status: 'FAILED', statusDetails: { 'a b': 'x' } }],
    ['j', { status: 'FAILED', statusDetails: { a: '' } }],
    ['j', { status: 'FAILED', statusDetails: { a: 'tab\there' } }],
    ['j', { status: 'FAILED', statusDetails: { a: 'zero\u200bwidth' } }],
    ['j', { status: 'FAILED', statusDetails: { a: 'y'.repeat(1025) } }],
    ['j', { status: 'FAILED', statusDetails: { a: 5 as unknown as string } }],
    ['j', { status: 'FAILED', statusDetails: [] as unknown as Record<string, string> }],
  ])('refuses %s %j', (jobId, req) => {
    expect(() => checkUpdate(jobId, req, undefined)).toThrow(InvalidJobsRequestError);
  });

  it('accepts a 1024-character detail value and unicode text', () => {
    expect(() => checkUpdate('j', { status: 'FAILED', statusDetails: { a: 'y'.repeat(1024), b: 'exit 1 — ünïcode' } }, undefined)).not.toThrow();
  });
});
