/** Control plane of the local Jobs service (AWS IoT REST shapes) and its device-visible effects. */
import { JobsService } from '../../src/sim/service';
import { ManualClock } from '../../src/lib/clock';
import { makeSim, only, S0, T0, topicsOf } from './sim-harness';

const ok = { jobId: 'J1', targets: ['t1'], document: '{}' };

describe('createJob validation', () => {
  it.each([
    ['bad jobId', { ...ok, jobId: 'bad id' }, 'InvalidRequestException', 400],
    ['jobId too long', { ...ok, jobId: 'j'.repeat(65) }, 'InvalidRequestException', 400],
    ['no targets', { ...ok, targets: [] }, 'InvalidRequestException', 400],
    ['unknown thing group', { ...ok, targets: ['arn:aws:iot:eu-west-1:1:thinggroup/g'] }, 'ResourceNotFoundException', 404],
    ['bad target', { ...ok, targets: ['arn:aws:iot:eu-west-1:1:policy/p'] }, 'InvalidRequestException', 400],
    ['unknown member', { ...ok, colour: 'red' }, 'InvalidRequestException', 400],
    ['unsupported member', { ...ok, documentSource: 'https://bucket/doc.json' }, 'InvalidRequestException', 400],
    ['retry budget over 10', { ...ok, jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 6 }, { failureType: 'TIMED_OUT', numberOfRetries: 5 }] } }, 'InvalidRequestException', 400],
    ['more than 100 targets', { ...ok, targets: Array.from({ length: 101 }, (_, i) => `t${i}`) }, 'LimitExceededException', 410],
    ['document too long', { ...ok, document: JSON.stringify({ a: 'x'.repeat(32768) }) }, 'InvalidRequestException', 400],
    ['document not JSON', { ...ok, document: '{op:' }, 'InvalidRequestException', 400],
    ['document missing', { ...ok, document: undefined }, 'InvalidRequestException', 400],
    ['bad namespace', { ...ok, namespaceId: 'n s' }, 'InvalidRequestException', 400],
    ['bad targetSelection', { ...ok, targetSelection: 'SOMETIMES' }, 'InvalidRequestException', 400],
    ['timeout 0', { ...ok, timeoutConfig: { inProgressTimeoutInMinutes: 0 } }, 'InvalidRequestException', 400],
    ['timeout 10081', { ...ok, timeoutConfig: { inProgressTimeoutInMinutes: 10081 } }, 'InvalidRequestException', 400],
    ['timeout fraction', { ...ok, timeoutConfig: { inProgressTimeoutInMinutes: 1.5 } }, 'InvalidRequestException', 400],
    ['description too long', { ...ok, description: 'd'.repeat(2029) }, 'InvalidRequestException', 400],
  ])('%s is refused, nothing created', (_n, input, name, status) => {
    const sim = makeSim();
    const p = sim.during(() => expect(sim.svc.createJob(input as any)).toMatchObject({ ok: false, error: { name, status } }));
    expect(p).toEqual([]);
    expect(sim.svc.describeJob(input.jobId ?? 'J1').ok).toBe(false);
  });

  it('duplicate jobId → ResourceAlreadyExistsException 409; a 32768-character document is fine', () => {
    const sim = makeSim();
    const doc = JSON.stringify({ a: 'x'.repeat(32768 - 8) });
    expect(doc.length).toBe(32768);
    expect(sim.svc.createJob({ ...ok, document: doc }).ok).toBe(true);
    expect(sim.svc.createJob(ok)).toMatchObject({ ok: false, error: { name: 'ResourceAlreadyExistsException', status: 409 } });
  });

  it('accepts thing ARNs and names, creates things implicitly, de-duplicates targets', () => {
    const svc = new JobsService({ clock: new ManualClock(T0), publish: () => undefined, region: 'eu-west-1', accountId: '111122223333' });
    const r = svc.createJob({ ...ok, targets: ['arn:aws:iot:eu-west-1:111122223333:thing/a', 'a', 'b:1'], description: 'hello' });
    expect(r).toEqual({ ok: true, value: { jobArn: 'arn:aws:iot:eu-west-1:111122223333:job/J1', jobId: 'J1', description: 'hello' } });
    expect(svc.listThings().sort()).toEqual(['a', 'b:1']);
    expect(svc.listJobExecutionsForJob('J1', {})).toMatchObject({
      ok: true,
      value: { executionSummaries: [{ thingArn: 'arn:aws:iot:eu-west-1:111122223333:thing/a' }, { thingArn: 'arn:aws:iot:eu-west-1:111122223333:thing/b:1' }] },
    });
  });
});

describe('things', () => {
  it('createThing is idempotent and validates names', () => {
    const sim = makeSim();
    sim.svc.createThing('x');
    sim.svc.createThing('x');
    expect(sim.svc.listThings()).toEqual(['x']);
    expect(sim.svc.hasThing('x')).toBe(true);
    expect(sim.svc.hasThing('y')).toBe(false);
    expect(() => sim.svc.createThing('bad name')).toThrow(/invalid thing name/);
  });
});

describe('describeJob', () => {
  it('reports status, process details and completion for SNAPSHOT jobs', () => {
    const sim = makeSim();
    sim.job('J1', { targets: ['t1', 't2'], description: 'd', timeoutConfig: { inProgressTimeoutInMinutes: 7 } });
    sim.mqtt('J1/update', { status: 'IN_PROGRESS' });
    const d = sim.svc.describeJob('J1');
    expect(d).toEqual({
      ok: true,
      value: {
        job: {
          jobArn: 'arn:aws:iot:us-east-1:123456789012:job/J1',
          jobId: 'J1',
          targetSelection: 'SNAPSHOT',
          status: 'IN_PROGRESS',
          forceCanceled: false,
          targets: ['arn:aws:iot:us-east-1:123456789012:thing/t1', 'arn:aws:iot:us-east-1:123456789012:thing/t2'],
          description: 'd',
          createdAt: S0,
          lastUpdatedAt: S0,
          timeoutConfig: { inProgressTimeoutInMinutes: 7 },
          isConcurrent: false,
          jobProcessDetails: expect.objectContaining({ numberOfInProgressThings: 1, numberOfQueuedThings: 1, numberOfSucceededThings: 0 }),
        },
      },
    });
    sim.clock.advance(1500);
    sim.mqtt('J1/update', { status: 'SUCCEEDED' });
    sim.mqtt('J1/update', { status: 'FAILED' }, { thing: 't2' });
    expect(sim.svc.describeJob('J1')).toMatchObject({
      ok: true,
      value: { job: { status: 'COMPLETED', completedAt: S0 + 1.5, jobProcessDetails: { numberOfSucceededThings: 1, numberOfFailedThings: 1 } } },
    });
  });

  it('CONTINUOUS jobs never complete; namespaceId is reported; unknown job → 404', () => {
    const sim = makeSim();
    sim.job('J1', { targetSelection: 'CONTINUOUS', namespaceId: 'ns1' });
    sim.mqtt('J1/namespace-ns1/update', { status: 'SUCCEEDED' });
    expect(sim.svc.describeJob('J1')).toMatchObject({ ok: true, value: { job: { status: 'IN_PROGRESS', namespaceId: 'ns1' } } });
    expect(sim.svc.describeJob('nope')).toMatchObject({ ok: false, error: { name: 'ResourceNotFoundException', status: 404 } });
  });
});

describe('cancelJob', () => {
  it('cancels queued executions; force also cancels running ones; version bump per option', () => {
    for (const bump of [true, false]) {
      const sim = makeSim({ bumpVersionOnServiceTransition: bump });
      sim.job('J1', { targets: ['t1', 't2'] });
      sim.mqtt('start-next', {});
      sim.svc.cancelJob('J1', { comment: 'why', reasonCode: 'OUTDATED_1' });
      const q = sim.svc.describeJobExecutionControl('J1', 't2');
      expect(q).toMatchObject({ ok: true, value: { execution: { status: 'CANCELED', forceCanceled: false, versionNumber: bump ? 2 : 1 } } });
      expect(sim.svc.describeJobExecutionControl('J1', 't1')).toMatchObject({ ok: true, value: { execution: { status: 'IN_PROGRESS' } } });
      const p = sim.during(() => sim.svc.cancelJob('J1', { force: true }));
      expect(topicsOf(p)).toEqual(['notify', 'notify-next']);
      expect(sim.svc.describeJobExecutionControl('J1', 't1')).toMatchObject({
        ok: true,
        value: { execution: { status: 'CANCELED', forceCanceled: true, versionNumber: bump ? 3 : 2 } },
      });
      expect(sim.svc.describeJob('J1')).toMatchObject({ ok: true, value: { job: { status: 'CANCELED', forceCanceled: true, comment: 'why', reasonCode: 'OUTDATED_1' } } });
    }
  });

  it('errors: unknown job 404, completed job 409, bad reasonCode 400', () => {
    const sim = makeSim();
    expect(sim.svc.cancelJob('nope', {})).toMatchObject({ ok: false, error: { status: 404 } });
    sim.job('J1');
    expect(sim.svc.cancelJob('J1', { reasonCode: 'lower case' })).toMatchObject({ ok: false, error: { name: 'InvalidRequestException' } });
    sim.mqtt('J1/update', { status: 'SUCCEEDED' });
    expect(sim.svc.cancelJob('J1', {})).toMatchObject({ ok: false, error: { name: 'InvalidStateTransitionException', status: 409 } });
  });
});

describe('deleteJob', () => {
  it('needs force while IN_PROGRESS; removal publishes notify and notify-next and records the disappearance', () => {
    const sim = makeSim();
    sim.job('J1');
    sim.job('J2');
    expect(sim.svc.deleteJob('J1', {})).toMatchObject({ ok: false, error: { name: 'InvalidStateTransitionException', status: 409 } });
    const p = sim.during(() => expect(sim.svc.deleteJob('J1', { force: true })).toEqual({ ok: true, value: undefined }));
    expect(topicsOf(p)).toEqual(['notify', 'notify-next']);
    expect(only(p, 'notify-next').execution.jobId).toBe('J2');
    expect(sim.svc.history().at(-1)).toMatchObject({ jobId: 'J1', from: 'QUEUED', to: 'DELETED', by: 'service' });
    expect(sim.svc.describeJob('J1').ok).toBe(false);
    expect(sim.svc.deleteJob('J1', {})).toMatchObject({ ok: false, error: { status: 404 } });
    sim.svc.cancelJob('J2', {});
    expect(sim.during(() => sim.svc.deleteJob('J2', {}))).toEqual([]);
  });
});

describe('cancelJobExecution', () => {
  it.each([
    ['unknown', 'nope', {}, 'ResourceNotFoundException', 404],
    ['stale version', 'J1', { expectedVersion: 5 }, 'VersionConflictException', 409],
    ['IN_PROGRESS without force', 'J1', {}, 'InvalidStateTransitionException', 409],
    ['bad details', 'J1', { force: true, statusDetails: { 'a b': 'c' } }, 'InvalidRequestException', 400],
  ])('%s → %s', (_n, job, o, name, status) => {
    const sim = makeSim();
    sim.job('J1');
    sim.mqtt('start-next', {});
    expect(sim.svc.cancelJobExecution(job, 't1', o as any)).toMatchObject({ ok: false, error: { name, status } });
  });

  it('force-cancels with details; terminal executions cannot be canceled again', () => {
    const sim = makeSim();
    sim.job('J1');
    sim.mqtt('start-next', {});
    const p = sim.during(() => expect(sim.svc.cancelJobExecution('J1', 't1', { force: true, expectedVersion: 2, statusDetails: { by: 'ops' } }).ok).toBe(true));
    expect(topicsOf(p)).toEqual(['notify', 'notify-next']);
    expect(sim.svc.describeJobExecutionControl('J1', 't1')).toEqual({
      ok: true,
      value: {
        execution: {
          jobId: 'J1',
          status: 'CANCELED',
          forceCanceled: true,
          statusDetails: { detailsMap: { by: 'ops' } },
          thingArn: 'arn:aws:iot:us-east-1:123456789012:thing/t1',
          queuedAt: S0,
          startedAt: S0,
          lastUpdatedAt: S0,
          executionNumber: 1,
          versionNumber: 3,
        },
      },
    });
    expect(sim.svc.cancelJobExecution('J1', 't1', { force: true })).toMatchObject({ ok: false, error: { status: 409 } });
    expect(sim.svc.describeJobExecutionControl('J1', 't1', 2)).toMatchObject({ ok: false, error: { status: 404 } });
  });
});

describe('list job executions', () => {
  it('for a thing: filters by status and namespace, paginates', () => {
    const sim = makeSim();
    for (const id of ['A', 'B', 'C']) sim.job(id);
    sim.job('N', { namespaceId: 'ns1' });
    sim.mqtt('B/update', { status: 'SUCCEEDED' });
    const all = sim.svc.listJobExecutionsForThing('t1', {});
    expect(all.ok && all.value.executionSummaries.map((s: any) => s.jobId)).toEqual(['A', 'B', 'C', 'N']);
    expect(all.ok && all.value.executionSummaries[1]).toEqual({
      jobId: 'B',
      jobExecutionSummary: { status: 'SUCCEEDED', queuedAt: S0, lastUpdatedAt: S0, executionNumber: 1, retryAttempt: 0 },
    });
    const done = sim.svc.listJobExecutionsForThing('t1', { status: 'SUCCEEDED' });
    expect(done.ok && done.value.executionSummaries.map((s: any) => s.jobId)).toEqual(['B']);
    const ns = sim.svc.listJobExecutionsForThing('t1', { namespaceId: 'ns1' });
    expect(ns.ok && ns.value.executionSummaries.map((s: any) => s.jobId)).toEqual(['N']);
    const p1 = sim.svc.listJobExecutionsForThing('t1', { maxResults: 3 });
    expect(p1.ok && p1.value.executionSummaries).toHaveLength(3);
    const token = p1.ok ? p1.value.nextToken : undefined;
    expect(typeof token).toBe('string');
    const p2 = sim.svc.listJobExecutionsForThing('t1', { maxResults: 3, nextToken: token! });
    expect(p2.ok && p2.value).toEqual({ executionSummaries: [expect.objectContaining({ jobId: 'N' })] });
  });

  it.each([
    [{ status: 'DONE' }, 400],
    [{ maxResults: 0 }, 400],
    [{ maxResults: 251 }, 400],
    [{ nextToken: '!!' }, 400],
    [{ namespaceId: 'a b' }, 400],
  ])('for a thing: bad query %j → %i', (q, status) => {
    const sim = makeSim();
    sim.job('A');
    expect(sim.svc.listJobExecutionsForThing('t1', q as any)).toMatchObject({ ok: false, error: { status } });
  });

  it('unknown thing or job → 404', () => {
    const sim = makeSim();
    expect(sim.svc.listJobExecutionsForThing('ghost', {})).toMatchObject({ ok: false, error: { status: 404 } });
    expect(sim.svc.listJobExecutionsForJob('ghost', {})).toMatchObject({ ok: false, error: { status: 404 } });
  });

  it('for a job: one summary per thing, status filter', () => {
    const sim = makeSim();
    sim.job('A', { targets: ['t1', 't2', 't3'] });
    sim.mqtt('A/update', { status: 'IN_PROGRESS' }, { thing: 't2' });
    const r = sim.svc.listJobExecutionsForJob('A', { status: 'IN_PROGRESS' });
    expect(r).toEqual({
      ok: true,
      value: {
        executionSummaries: [
          {
            thingArn: 'arn:aws:iot:us-east-1:123456789012:thing/t2',
            jobExecutionSummary: { status: 'IN_PROGRESS', queuedAt: S0, startedAt: S0, lastUpdatedAt: S0, executionNumber: 1, retryAttempt: 0 },
          },
        ],
      },
    });
  });
});
