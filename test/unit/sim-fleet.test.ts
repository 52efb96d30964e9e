/** Fleets in the pure Jobs state machine: field checks, retry budget, groups, targets, notifications, counts. */
import { int, list, oneOf, problemIn, str, struct, unsupported } from '../../src/sim/jobs/fields';
import { CREATE_JOB } from '../../src/sim/jobs/job-fields';
import { ThingGroups } from '../../src/sim/registry/groups';
import type { GroupRecord } from '../../src/sim/registry/groups';
import { simOptionProblem } from '../../src/sim/jobs/options';
import { retryAllowed } from '../../src/sim/jobs/retry';
import type { RetryConfig } from '../../src/sim/jobs/retry';
import { makeSim, only, topicsOf } from './sim-harness';

describe('request members against a model shape', () => {
  const shape = {
    fields: {
      name: str({ min: 1, max: 3 }),
      n: int({ min: 0, max: 10 }),
      kind: oneOf(['A', 'B']),
      items: list(struct({ fields: { k: int() }, required: ['k'] }), { max: 2 }),
      later: unsupported('not emulated'),
    },
    required: ['name'],
  };
  it.each([
    [{ name: 'ab' }, undefined],
    [{ name: 'ab', n: null }, undefined],
    [{}, 'name is required'],
    [{ name: 'abcd' }, 'name must be at most 3 characters'],
    [{ name: 'a', n: 11 }, 'n must be at most 10'],
    [{ name: 'a', n: 1.5 }, 'n must be an integer'],
    [{ name: 'a', kind: 'C' }, 'kind must be one of A, B'],
    [{ name: 'a', items: [{ k: 1 }, {}] }, 'items[1].k is required'],
    [{ name: 'a', items: [{ k: 1, extra: 2 }] }, 'items[0].extra is not a known member of this request'],
    [{ name: 'a', later: 1 }, 'later is not supported by the local Jobs service: not emulated'],
    [{ name: 'a', colour: 'red' }, 'colour is not a known member of this request'],
  ])('%j → %s', (body, problem) => {
    expect(problemIn(body, shape)).toBe(problem);
  });

  it('CreateJob names every member of the AWS model, checked or refused', () => {
    const members = ['jobId', 'targets', 'documentSource', 'document', 'description', 'presignedUrlConfig', 'targetSelection', 'jobExecutionsRolloutConfig', 'abortConfig', 'timeoutConfig', 'tags', 'namespaceId', 'jobTemplateArn', 'jobExecutionsRetryConfig', 'documentParameters', 'schedulingConfig', 'destinationPackageVersions'];
    expect(Object.keys(CREATE_JOB.fields).sort()).toEqual(members.sort());
  });

  it.each([
    [[{ failureType: 'FAILED', numberOfRetries: 10 }], undefined],
    [[{ failureType: 'FAILED', numberOfRetries: 5 }, { failureType: 'TIMED_OUT', numberOfRetries: 5 }], undefined],
    [[{ failureType: 'FAILED', numberOfRetries: 6 }, { failureType: 'TIMED_OUT', numberOfRetries: 5 }], /at most 10 retries across failure types/],
    [[{ failureType: 'FAILED', numberOfRetries: 1 }, { failureType: 'FAILED', numberOfRetries: 1 }], /names FAILED more than once/],
    [[{ failureType: 'ALL', numberOfRetries: 1 }, { failureType: 'FAILED', numberOfRetries: 1 }], /ALL already covers/],
    [[], /at least 1 item/],
    [[{ failureType: 'REJECTED', numberOfRetries: 1 }], /failureType must be one of/],
  ])('retry criteria %j', (criteriaList, problem) => {
    const p = problemIn({ jobId: 'j', targets: ['t'], jobExecutionsRetryConfig: { criteriaList } }, CREATE_JOB);
    if (problem === undefined) expect(p).toBeUndefined();
    else expect(p).toMatch(problem);
  });
});

describe('retry budget', () => {
  const cfg = (...c: [RetryConfig['criteriaList'][number]['failureType'], number][]): RetryConfig => ({ criteriaList: c.map(([failureType, numberOfRetries]) => ({ failureType, numberOfRetries })) });
  it.each([
    [cfg(['FAILED', 2]), 'FAILED', { FAILED: 1, TIMED_OUT: 0 }, true],
    [cfg(['FAILED', 2]), 'FAILED', { FAILED: 2, TIMED_OUT: 0 }, false],
    [cfg(['FAILED', 2]), 'TIMED_OUT', { FAILED: 0, TIMED_OUT: 0 }, false],
    [cfg(['ALL', 2]), 'TIMED_OUT', { FAILED: 1, TIMED_OUT: 0 }, true],
    [cfg(['ALL', 2]), 'FAILED', { FAILED: 1, TIMED_OUT: 1 }, false],
    [cfg(['FAILED', 1], ['TIMED_OUT', 1]), 'TIMED_OUT', { FAILED: 1, TIMED_OUT: 0 }, true],
    [cfg(['FAILED', 0]), 'FAILED', { FAILED: 0, TIMED_OUT: 0 }, false],
  ] as const)('%j after %s with %j used → %s', (c, failure, used, allowed) => {
    expect(retryAllowed(c, failure, { ...used })).toBe(allowed);
  });
});

describe('thing groups', () => {
  const g = (groups: ThingGroups, name: string, parent?: string): void => {
    const rec: GroupRecord = { name, arn: name, id: name, createdAtMs: 0, children: new Set(), things: new Set(), version: 1, attributes: {}, ...(parent ? { parent } : {}) };
    groups.add(rec);
  };
  it('one hierarchy per thing, at most 10 groups, at most 7 levels', () => {
    const groups = new ThingGroups();
    g(groups, 'root');
    g(groups, 'a', 'root');
    g(groups, 'b', 'root');
    groups.join('t', 'a');
    expect(groups.refuseJoin('t', 'b')).toMatch(/same hierarchy/);
    expect(groups.refuseJoin('t', 'root')).toMatch(/same hierarchy/);
    expect(groups.refuseJoin('t', 'a')).toBeUndefined();
    for (let i = 0; i < 9; i += 1) {
      g(groups, `r${i}`);
      groups.join('t', `r${i}`);
    }
    g(groups, 'r9');
    expect(groups.refuseJoin('t', 'r9')).toMatch(/already in 10 thing groups/);
    expect([...groups.closureOf('t')].sort()).toEqual(['a', 'r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'root']);
    let parent = 'root';
    for (let depth = 2; depth <= 7; depth += 1) {
      g(groups, `d${depth}`, parent);
      parent = `d${depth}`;
    }
    expect(groups.lineage('d7')).toHaveLength(7);
    expect(groups.refuseCreate('d8', 'd7')).toMatchObject({ name: 'InvalidRequestException' });
  });
});

describe('device-visible effects of fleet changes', () => {
  function groupSim(options = {}) {
    const sim = makeSim(options);
    for (const t of ['t1', 't2']) sim.svc.createThing(t);
    expect(sim.svc.createThingGroup('g', {}).ok).toBe(true);
    expect(sim.svc.addThingToThingGroup({ thingGroupName: 'g', thingName: 't1' }).ok).toBe(true);
    return sim;
  }

  it('a retry after FAILED: the failure empties the pending set, then the retry is announced as execution 2', () => {
    const sim = makeSim();
    sim.job('R', { jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 1 }] } });
    sim.mqtt('R/update', { status: 'IN_PROGRESS', clientToken: 'a' });
    const p = sim.mqtt('R/update', { status: 'FAILED', clientToken: 'b' });
    expect(topicsOf(p)).toEqual(['R/update/accepted', 'notify', 'notify-next', 'notify', 'notify-next']);
    const notifies = p.filter((x) => x.topic.endsWith('/notify')).map((x) => x.payload as { jobs: Record<string, { executionNumber: number }[]> });
    expect(notifies[0]?.jobs).toEqual({});
    expect(notifies[1]?.jobs.QUEUED?.map((e) => e.executionNumber)).toEqual([2]);
    const next = p.filter((x) => x.topic.endsWith('/notify-next')).map((x) => x.payload as { execution?: { executionNumber: number; status: string } });
    expect(next[0]?.execution).toBeUndefined();
    expect(next[1]?.execution).toMatchObject({ jobId: 'R', executionNumber: 2, status: 'QUEUED', versionNumber: 1 });
    const desc = only(sim.mqtt('R/get', {}), 'R/get/accepted');
    expect(desc.execution).toMatchObject({ executionNumber: 2, status: 'QUEUED' });
    const first = only(sim.mqtt('R/get', { executionNumber: 1 }), 'R/get/accepted');
    expect(first.execution).toMatchObject({ executionNumber: 1, status: 'FAILED' });
    // An update naming execution 1 reaches execution 1, not the retry.
    const stale = only(sim.mqtt('R/update', { status: 'SUCCEEDED', executionNumber: 1 }), 'R/update/rejected');
    expect(stale.code).toBe('InvalidStateTransition');
  });

  it('a thing leaving the group: its queued head becomes REMOVED with notify and notify-next; rejoining queues execution 2', () => {
    const sim = groupSim();
    expect(sim.svc.createJob({ jobId: 'C', targets: ['arn:aws:iot:us-east-1:123456789012:thinggroup/g'], document: '{}', targetSelection: 'CONTINUOUS' }).ok).toBe(true);
    const left = sim.during(() => sim.svc.removeThingFromThingGroup({ thingGroupName: 'g', thingName: 't1' }));
    expect(topicsOf(left)).toEqual(['notify', 'notify-next']);
    expect(only(left, 'notify').jobs).toEqual({});
    const described = only(sim.mqtt('C/get', {}), 'C/get/accepted');
    expect(described.execution).toMatchObject({ status: 'REMOVED', versionNumber: 2 });
    const back = sim.during(() => sim.svc.addThingToThingGroup({ thingGroupName: 'g', thingName: 't1' }));
    expect(only(back, 'notify-next').execution).toMatchObject({ jobId: 'C', executionNumber: 2, status: 'QUEUED' });
    const counts = sim.svc.describeJob('C');
    expect(counts.ok && counts.value.job.jobProcessDetails).toMatchObject({ numberOfQueuedThings: 1, numberOfRemovedThings: 0 });
  });

  it('deleting a group removes its things from continuous jobs; a direct thing target never leaves', () => {
    const sim = groupSim();
    expect(sim.svc.createJob({ jobId: 'C', targets: ['arn:aws:iot:us-east-1:123456789012:thinggroup/g', 't2'], document: '{}', targetSelection: 'CONTINUOUS' }).ok).toBe(true);
    expect(sim.svc.deleteThingGroup('g').ok).toBe(true);
    const l = sim.svc.listJobExecutionsForJob('C', {});
    expect(l.ok && l.value.executionSummaries.map((e) => (e as { jobExecutionSummary: { status: string } }).jobExecutionSummary.status)).toEqual(['QUEUED', 'REMOVED']);
  });

  it('DeleteJobExecution: a pending retry needs force; once it is gone the job completes on the execution left', () => {
    const sim = makeSim();
    sim.job('D', { jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 2 }] } });
    sim.mqtt('D/update', { status: 'FAILED' });
    expect(sim.svc.deleteJobExecution('D', 't1', 2, {})).toMatchObject({ ok: false, error: { name: 'InvalidStateTransitionException' } });
    const p = sim.during(() => expect(sim.svc.deleteJobExecution('D', 't1', 2, { force: true }).ok).toBe(true));
    expect(topicsOf(p)).toEqual(['notify', 'notify-next']);
    const d = sim.svc.describeJob('D');
    expect(d.ok && d.value.job).toMatchObject({ status: 'COMPLETED', jobProcessDetails: { numberOfFailedThings: 1, numberOfQueuedThings: 0 } });
  });
});

describe('sim options from the command line', () => {
  it.each([
    ['inProgressOnLeave', 'keep', undefined],
    ['inProgressOnLeave', 'kep', 'inProgressOnLeave takes one of REMOVED, keep'],
    ['throttlingStatus', 400, undefined],
    ['throttlingStatus', 401, 'throttlingStatus takes one of 429, 400'],
    ['maxPendingListed', 15, undefined],
    ['mqttThingName', 'yes', 'mqttThingName takes true or false'],
  ])('%s=%j → %s', (key, value, problem) => {
    expect(simOptionProblem(key, value)).toBe(problem);
  });
  it('refuses an unknown option by name', () => {
    expect(simOptionProblem('inProgresOnLeave', 'keep')).toMatch(/^unknown option "inProgresOnLeave"; known: .*inProgressOnLeave/);
  });
});
