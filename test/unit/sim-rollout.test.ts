/**
 * Rollout, abort and scheduling in the service state machine, on a manual clock: what exists and
 * what devices are told after each move of the clock (docs/ROLLOUT.md).
 */
import type { CreateJobInput } from '../../src/sim/types';
import { makeSim, only, S0, T0, topicsOf } from './sim-harness';
import type { Sim } from './sim-harness';

const MIN = 60_000;
const H = 60 * MIN;
const at = (ms: number): string => new Date(ms).toISOString().slice(0, 16);
const things = (n: number): string[] => Array.from({ length: n }, (_, i) => `t${i + 1}`);

function create(sim: Sim, input: Partial<CreateJobInput> & { jobId: string }): void {
  const r = sim.svc.createJob({ targets: ['t1'], document: '{}', ...input });
  if (!r.ok) throw new Error(`${r.error.name}: ${r.error.message}`);
}

/** Moves the clock and runs the timers, returning what was published. */
function advance(sim: Sim, ms: number): ReturnType<Sim['during']> {
  sim.clock.advance(ms);
  return sim.during(() => sim.svc.tick());
}

function executions(sim: Sim, jobId: string): Record<string, any>[] {
  const r = sim.svc.listJobExecutionsForJob(jobId, { maxResults: 250 });
  if (!r.ok) throw new Error(r.error.message);
  return r.value.executionSummaries as Record<string, any>[];
}

const queuedAt = (sim: Sim, jobId: string): number[] => executions(sim, jobId).map((e) => e.jobExecutionSummary.queuedAt);
const job = (sim: Sim, jobId: string): Record<string, any> => {
  const r = sim.svc.describeJob(jobId);
  if (!r.ok) throw new Error(r.error.message);
  return r.value.job;
};
const statusOf = (sim: Sim, jobId: string, thing: string): string | undefined => {
  const r = sim.svc.describeJobExecutionControl(jobId, thing);
  return r.ok ? String(r.value.execution.status) : undefined;
};

describe('rollout rate', () => {
  it('maximumPerMinute: the first minute at CreateJob, then one batch per minute', () => {
    const sim = makeSim();
    const pubs = sim.during(() => create(sim, { jobId: 'R1', targets: things(5), jobExecutionsRolloutConfig: { maximumPerMinute: 2 } }));
    expect(pubs.filter((p) => p.topic.endsWith('/notify')).map((p) => p.thing)).toEqual(['t1', 't2']);
    expect(executions(sim, 'R1')).toHaveLength(2);
    expect(advance(sim, MIN - 1)).toEqual([]);
    expect(advance(sim, 1).filter((p) => p.topic.endsWith('/notify')).map((p) => p.thing)).toEqual(['t3', 't4']);
    advance(sim, MIN);
    expect(queuedAt(sim, 'R1')).toEqual([S0, S0, S0 + 60, S0 + 60, S0 + 120]);
    expect(job(sim, 'R1').jobExecutionsRolloutConfig).toEqual({ maximumPerMinute: 2 });
  });

  it('a clock jump replays the skipped minutes one by one', () => {
    const sim = makeSim();
    create(sim, { jobId: 'R2', targets: things(5), jobExecutionsRolloutConfig: { maximumPerMinute: 1 } });
    const pubs = advance(sim, 3 * H);
    expect(pubs.filter((p) => p.topic.endsWith('/notify')).map((p) => p.thing)).toEqual(['t2', 't3', 't4', 't5']);
    expect(queuedAt(sim, 'R2')).toEqual([0, 1, 2, 3, 4].map((m) => S0 + 60 * m));
    expect(only(pubs.filter((p) => p.thing === 't5'), 'notify').timestamp).toBe(S0 + 240);
    expect(sim.svc.nextEventAt()).toBeUndefined();
  });

  it('exponentialRate rises with succeeded things, from the next minute on', () => {
    const sim = makeSim();
    create(sim, {
      jobId: 'R3',
      targets: things(12),
      jobExecutionsRolloutConfig: { exponentialRate: { baseRatePerMinute: 1, incrementFactor: 2, rateIncreaseCriteria: { numberOfSucceededThings: 1 } } },
    });
    expect(executions(sim, 'R3')).toHaveLength(1);
    sim.mqtt('R3/update', { status: 'SUCCEEDED' }, { thing: 't1' });
    expect(advance(sim, MIN - 1)).toEqual([]);
    // One success: 2 in the next minute.
    expect(topicsOf(advance(sim, 1))).toEqual(['notify', 'notify-next', 'notify', 'notify-next']);
    expect(executions(sim, 'R3').map((e) => e.thingArn.split('/')[1])).toEqual(['t1', 't2', 't3']);
    sim.mqtt('R3/update', { status: 'SUCCEEDED' }, { thing: 't2' });
    sim.mqtt('R3/update', { status: 'FAILED' }, { thing: 't3' });
    advance(sim, MIN);
    // Two successes → 4 per minute; the failure does not count.
    expect(executions(sim, 'R3')).toHaveLength(7);
  });

  it('numberOfNotifiedThings raises the rate as executions are created (AWS’s 50/100/200 table, scaled down)', () => {
    const sim = makeSim();
    create(sim, {
      jobId: 'R4',
      targets: things(20),
      jobExecutionsRolloutConfig: { exponentialRate: { baseRatePerMinute: 2, incrementFactor: 2, rateIncreaseCriteria: { numberOfNotifiedThings: 4 } } },
    });
    const perMinute = [executions(sim, 'R4').length];
    for (let m = 1; m <= 4; m++) {
      advance(sim, MIN);
      perMinute.push(executions(sim, 'R4').length);
    }
    // 2, 2 (→ 4 notified: rate 4), 4 (→ 8: rate 8)… capped by what is left.
    expect(perMinute).toEqual([2, 4, 8, 16, 20]);
  });

  it('a SNAPSHOT job is not COMPLETED while targets still wait for the rollout', () => {
    const sim = makeSim();
    create(sim, { jobId: 'R5', targets: ['t1', 't2'], jobExecutionsRolloutConfig: { maximumPerMinute: 1 } });
    sim.mqtt('R5/update', { status: 'SUCCEEDED' }, { thing: 't1' });
    expect(job(sim, 'R5').status).toBe('IN_PROGRESS');
    advance(sim, MIN);
    sim.mqtt('R5/update', { status: 'SUCCEEDED' }, { thing: 't2' });
    expect(job(sim, 'R5')).toMatchObject({ status: 'COMPLETED', jobProcessDetails: { numberOfSucceededThings: 2 } });
  });

  it('defaultRolloutPerMinute paces jobs without a rollout configuration; 0 creates everything at once', () => {
    const paced = makeSim({ defaultRolloutPerMinute: 2 });
    create(paced, { jobId: 'D1', targets: things(3) });
    expect(executions(paced, 'D1')).toHaveLength(2);
    const unpaced = makeSim();
    create(unpaced, { jobId: 'D1', targets: things(100) });
    expect(executions(unpaced, 'D1')).toHaveLength(100);
  });
});

describe('scheduling', () => {
  it('a job with a startTime is SCHEDULED and invisible to devices until it starts', () => {
    const sim = makeSim();
    const pubs = sim.during(() => create(sim, { jobId: 'S1', targets: ['t1', 't2'], schedulingConfig: { startTime: at(T0 + 31 * MIN) } }));
    expect(pubs).toEqual([]);
    expect(job(sim, 'S1')).toMatchObject({ status: 'SCHEDULED', schedulingConfig: { startTime: at(T0 + 31 * MIN) } });
    expect(executions(sim, 'S1')).toEqual([]);
    expect(only(sim.mqtt('get', {}), 'get/accepted')).toMatchObject({ inProgressJobs: [], queuedJobs: [] });
    expect(sim.svc.nextEventAt()).toBe(T0 + 31 * MIN);
    expect(advance(sim, 31 * MIN - 1)).toEqual([]);
    const started = advance(sim, 1);
    expect(topicsOf(started)).toEqual(['notify', 'notify-next', 'notify', 'notify-next']);
    expect(job(sim, 'S1').status).toBe('IN_PROGRESS');
    expect(queuedAt(sim, 'S1')).toEqual([S0 + 31 * 60, S0 + 31 * 60]);
  });

  it('refuses a start less than 30 minutes ahead, the AWS way', () => {
    const sim = makeSim();
    const r = sim.svc.createJob({ jobId: 'S2', targets: ['t1'], document: '{}', schedulingConfig: { startTime: at(T0 + 29 * MIN) } });
    expect(r).toMatchObject({ ok: false, error: { name: 'InvalidRequestException', status: 400, message: expect.stringMatching(/at least 30 minutes/) } });
    expect(sim.svc.describeJob('S2').ok).toBe(false);
  });

  it('a SCHEDULED job can be canceled or deleted (without force) and then never starts', () => {
    const sim = makeSim();
    create(sim, { jobId: 'S3', schedulingConfig: { startTime: at(T0 + H) } });
    create(sim, { jobId: 'S4', schedulingConfig: { startTime: at(T0 + H) } });
    expect(sim.svc.cancelJob('S3', {}).ok).toBe(true);
    expect(sim.svc.deleteJob('S4', {}).ok).toBe(true);
    expect(advance(sim, 2 * H)).toEqual([]);
    expect(sim.svc.nextEventAt()).toBeUndefined();
    expect(job(sim, 'S3')).toMatchObject({ status: 'CANCELED', jobProcessDetails: { numberOfQueuedThings: 0, numberOfCanceledThings: 0 } });
    expect(sim.svc.describeJob('S4').ok).toBe(false);
  });

  it('endBehavior STOP_ROLLOUT: targets not reached by endTime never get an execution', () => {
    const sim = makeSim();
    create(sim, { jobId: 'E1', targets: things(40), jobExecutionsRolloutConfig: { maximumPerMinute: 1 }, schedulingConfig: { endTime: at(T0 + 30 * MIN) } });
    advance(sim, 3 * H);
    expect(executions(sim, 'E1')).toHaveLength(30);
    expect(job(sim, 'E1').status).toBe('IN_PROGRESS');
    for (let i = 1; i <= 30; i++) sim.mqtt('E1/update', { status: 'SUCCEEDED' }, { thing: `t${i}` });
    expect(job(sim, 'E1').status).toBe('COMPLETED');
  });

  it.each([
    ['CANCEL', 'IN_PROGRESS', false],
    ['FORCE_CANCEL', 'CANCELED', true],
  ])('endBehavior %s cancels the job at endTime: the running execution ends up %s', (endBehavior, running, forced) => {
    const sim = makeSim();
    create(sim, { jobId: 'E2', targets: ['t1', 't2'], schedulingConfig: { startTime: at(T0 + 30 * MIN), endTime: at(T0 + H), endBehavior } });
    advance(sim, 30 * MIN);
    sim.mqtt('start-next', {}, { thing: 't1' });
    expect(advance(sim, 30 * MIN - 1)).toEqual([]);
    const ended = advance(sim, 1);
    expect(ended.filter((p) => p.topic.endsWith('/notify-next')).map((p) => p.thing)).toEqual(forced ? ['t1', 't2'] : ['t2']);
    expect([statusOf(sim, 'E2', 't1'), statusOf(sim, 'E2', 't2')]).toEqual([running, 'CANCELED']);
    expect(job(sim, 'E2')).toMatchObject({ status: 'CANCELED', forceCanceled: forced, schedulingConfig: { endBehavior } });
  });

  it('maintenance windows: executions are created only while a window is open, resuming in the next one', () => {
    const sim = makeSim();
    create(sim, {
      jobId: 'W1',
      targets: things(100),
      jobExecutionsRolloutConfig: { maximumPerMinute: 1 },
      schedulingConfig: { maintenanceWindows: [{ startTime: 'cron(0 2 * * ? *)', durationInMinutes: 60 }] },
    });
    expect(executions(sim, 'W1')).toEqual([]);
    expect(job(sim, 'W1').scheduledJobRollouts).toEqual([1, 2, 3, 4, 5, 6, 7].map((d) => ({ startTime: `2026-01-0${d}T02:00` })));
    advance(sim, 2 * H);
    expect(executions(sim, 'W1')).toHaveLength(1);
    advance(sim, 22 * H);
    expect(executions(sim, 'W1')).toHaveLength(60);
    advance(sim, 3 * H);
    const q = queuedAt(sim, 'W1');
    expect(q).toHaveLength(100);
    expect(q[59]).toBe(S0 + 2 * 3600 + 59 * 60);
    expect(q[60]).toBe(S0 + 26 * 3600);
    expect(q[99]).toBe(S0 + 26 * 3600 + 39 * 60);
  });

  it('a maintenance window after the start time holds the rollout until it opens', () => {
    const sim = makeSim();
    create(sim, {
      jobId: 'W2',
      targets: ['t1'],
      schedulingConfig: { startTime: at(T0 + H), maintenanceWindows: [{ startTime: 'cron(30 3 * * ? *)', durationInMinutes: 30 }] },
    });
    advance(sim, H);
    expect(job(sim, 'W2').status).toBe('IN_PROGRESS');
    expect(executions(sim, 'W2')).toEqual([]);
    advance(sim, 150 * MIN);
    expect(queuedAt(sim, 'W2')).toEqual([S0 + 3.5 * 3600]);
  });
});

describe('abort', () => {
  const abortConfig = (failureType: string, thresholdPercentage: number, minNumberOfExecutedThings: number) => ({
    criteriaList: [{ failureType, action: 'CANCEL', thresholdPercentage, minNumberOfExecutedThings }],
  });

  it('cancels the job and its QUEUED executions once the threshold is met; IN_PROGRESS ones keep running', () => {
    const sim = makeSim();
    create(sim, { jobId: 'A1', targets: things(4), abortConfig: abortConfig('FAILED', 50, 2) });
    sim.mqtt('A1/update', { status: 'IN_PROGRESS' }, { thing: 't3' });
    sim.mqtt('A1/update', { status: 'FAILED' }, { thing: 't1' });
    expect(job(sim, 'A1').status).toBe('IN_PROGRESS');
    const pubs = sim.mqtt('A1/update', { status: 'SUCCEEDED' }, { thing: 't2' });
    expect(pubs.filter((p) => p.topic.endsWith('/notify-next')).map((p) => p.thing)).toEqual(['t2', 't4']);
    expect(things(4).map((t) => statusOf(sim, 'A1', t))).toEqual(['FAILED', 'SUCCEEDED', 'IN_PROGRESS', 'CANCELED']);
    expect(job(sim, 'A1')).toMatchObject({
      status: 'CANCELED',
      forceCanceled: false,
      reasonCode: 'ABORT_CRITERIA_MET',
      comment: expect.stringMatching(/1 of 2 executed things ended FAILED/),
      abortConfig: abortConfig('FAILED', 50, 2),
    });
    // The running execution may still report.
    expect(only(sim.mqtt('A1/update', { status: 'SUCCEEDED' }, { thing: 't3' }), 'update/accepted')).toBeDefined();
  });

  it('stops the rollout: waiting targets never get an execution', () => {
    const sim = makeSim();
    create(sim, { jobId: 'A2', targets: things(3), jobExecutionsRolloutConfig: { maximumPerMinute: 1 }, abortConfig: abortConfig('ALL', 100, 1) });
    sim.mqtt('A2/update', { status: 'REJECTED' }, { thing: 't1' });
    expect(advance(sim, H)).toEqual([]);
    expect(executions(sim, 'A2')).toHaveLength(1);
    expect(job(sim, 'A2').status).toBe('CANCELED');
  });

  it('TIMED_OUT executions count when the timer fires', () => {
    const sim = makeSim();
    create(sim, { jobId: 'A3', targets: ['t1', 't2'], timeoutConfig: { inProgressTimeoutInMinutes: 5 }, abortConfig: abortConfig('TIMED_OUT', 50, 1) });
    sim.mqtt('start-next', {}, { thing: 't1' });
    advance(sim, 5 * MIN);
    expect([statusOf(sim, 'A3', 't1'), statusOf(sim, 'A3', 't2'), job(sim, 'A3').status]).toEqual(['TIMED_OUT', 'CANCELED', 'CANCELED']);
  });

  it('below the minimum number of executed things nothing happens; canceled executions do not count', () => {
    const sim = makeSim();
    create(sim, { jobId: 'A4', targets: things(3), abortConfig: abortConfig('FAILED', 10, 2) });
    sim.svc.cancelJobExecution('A4', 't2', {});
    sim.mqtt('A4/update', { status: 'FAILED' }, { thing: 't1' });
    expect(job(sim, 'A4').status).toBe('IN_PROGRESS');
    sim.mqtt('A4/update', { status: 'FAILED' }, { thing: 't3' });
    expect(job(sim, 'A4').status).toBe('CANCELED');
  });
});

describe('with fleets: continuous jobs and retries', () => {
  const GROUP = 'arn:aws:iot:us-east-1:123456789012:thinggroup/g';

  it('a thing joining later is not paced; after a STOP_ROLLOUT end a joiner gets no execution', () => {
    const sim = makeSim();
    sim.svc.createThingGroup('g', {});
    for (const t of things(5)) sim.svc.createThing(t);
    for (const t of ['t1', 't2', 't3']) sim.svc.addThingToThingGroup({ thingGroupName: 'g', thingName: t });
    create(sim, {
      jobId: 'C1',
      targets: [GROUP],
      targetSelection: 'CONTINUOUS',
      jobExecutionsRolloutConfig: { maximumPerMinute: 1 },
      schedulingConfig: { endTime: at(T0 + 30 * MIN) },
    });
    expect(executions(sim, 'C1')).toHaveLength(1);
    sim.svc.addThingToThingGroup({ thingGroupName: 'g', thingName: 't4' });
    expect(executions(sim, 'C1').map((e) => e.thingArn.split('/')[1])).toEqual(['t1', 't4']);
    advance(sim, H);
    expect(executions(sim, 'C1')).toHaveLength(4);
    sim.svc.addThingToThingGroup({ thingGroupName: 'g', thingName: 't5' });
    expect(executions(sim, 'C1')).toHaveLength(4);
    expect(job(sim, 'C1').status).toBe('IN_PROGRESS');
  });

  it('an abort comes before the retry: a failure that aborts the job queues no retry', () => {
    const sim = makeSim();
    create(sim, {
      jobId: 'AR',
      targets: ['t1', 't2'],
      jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 3 }] },
      abortConfig: { criteriaList: [{ failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 100, minNumberOfExecutedThings: 1 }] },
    });
    sim.mqtt('AR/update', { status: 'FAILED' }, { thing: 't1' });
    expect(sim.svc.describeJobExecutionControl('AR', 't1')).toMatchObject({ ok: true, value: { execution: { status: 'FAILED', executionNumber: 1 } } });
    expect([statusOf(sim, 'AR', 't2'), job(sim, 'AR').status]).toEqual(['CANCELED', 'CANCELED']);
  });

  it('retries are never held by the rollout rate', () => {
    const sim = makeSim();
    create(sim, {
      jobId: 'RR',
      targets: ['t1', 't2'],
      jobExecutionsRolloutConfig: { maximumPerMinute: 1 },
      jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 1 }] },
    });
    sim.mqtt('RR/update', { status: 'FAILED' }, { thing: 't1' });
    expect(sim.svc.describeJobExecutionControl('RR', 't1')).toMatchObject({ ok: true, value: { execution: { status: 'QUEUED', executionNumber: 2 } } });
    expect(statusOf(sim, 'RR', 't2')).toBeUndefined();
  });
});
