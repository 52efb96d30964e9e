/**
 * Rollout, abort and scheduling in the local Jobs service, driven by @aws-sdk/client-iot over real
 * HTTP, with time moved through the sim-only `POST /sim/clock` route instead of waited for. Device
 * moves go through the service's data-plane entry points (the HTTPS front is tested elsewhere).
 */
import {
  AddThingToThingGroupCommand,
  CancelJobCommand,
  CreateJobCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DeleteJobCommand,
  DescribeJobCommand,
  IoTClient,
  ListJobExecutionsForJobCommand,
  ListJobsCommand,
  RemoveThingFromThingGroupCommand,
  UpdateJobCommand,
} from '@aws-sdk/client-iot';
import type { CreateJobCommandInput } from '@aws-sdk/client-iot';
import { ManualClock } from '../../src/lib/clock';
import { startControlPlane } from '../../src/sim/fronts/http-control-plane';
import type { RunningServer } from '../../src/sim/fronts/http-util';
import { SimRuntime } from '../../src/sim/runtime';
import { sdkError } from '../support/sdk';

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' };
const ARN = (t: string): string => `arn:aws:iot:us-east-1:123456789012:thing/${t}`;
const GARN = (g: string): string => `arn:aws:iot:us-east-1:123456789012:thinggroup/${g}`;
const DOC = JSON.stringify({ operation: 'exec', command: ['true'] });
const at = (ms: number): string => new Date(ms).toISOString().slice(0, 16);

interface Sim {
  runtime: SimRuntime;
  iot: IoTClient;
  server: RunningServer;
  base: string;
}

const open: Sim[] = [];

async function sim(): Promise<Sim> {
  // A manual base clock: only POST /sim/clock moves the service's time.
  const runtime = new SimRuntime({ clock: new ManualClock(T0) });
  const server = await startControlPlane({ service: runtime.service, host: '127.0.0.1', port: 0, clock: runtime });
  const base = `http://127.0.0.1:${server.port}`;
  const iot = new IoTClient({ region: 'us-east-1', endpoint: base, credentials, maxAttempts: 1 });
  const s = { runtime, iot, server, base };
  open.push(s);
  for (const t of ['a', 'b', 'c', 'd']) await iot.send(new CreateThingCommand({ thingName: t }));
  return s;
}

afterAll(async () => {
  for (const s of open) {
    s.iot.destroy();
    await s.server.close();
    s.runtime.close();
  }
});

async function clock(s: Sim, body?: Record<string, unknown>): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(`${s.base}/sim/clock`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}


function create(s: Sim, jobId: string, extra: Partial<CreateJobCommandInput> = {}): Promise<unknown> {
  return s.iot.send(new CreateJobCommand({ jobId, targets: ['a', 'b', 'c'].map(ARN), document: DOC, ...extra }));
}

async function things(s: Sim, jobId: string): Promise<string[]> {
  const r = await s.iot.send(new ListJobExecutionsForJobCommand({ jobId }));
  return (r.executionSummaries ?? []).map((e) => String(e.thingArn).split('/')[1] as string);
}

const describe_ = async (s: Sim, jobId: string) => (await s.iot.send(new DescribeJobCommand({ jobId }))).job;

describe('the sim clock (POST /sim/clock)', () => {
  it('shows and moves the service time; refuses going back, unknown fields and ambiguous moves', async () => {
    const s = await sim();
    expect((await clock(s)).json).toEqual({ now: '2026-01-01T00:00:00.000Z', epochMs: T0, offsetMs: 0 });
    expect(await clock(s, { advanceMs: 90_000 })).toEqual({ status: 200, json: { now: '2026-01-01T00:01:30.000Z', epochMs: T0 + 90_000, offsetMs: 90_000 } });
    expect((await clock(s, { to: '2026-01-01T01:00:00Z' })).json.now).toBe('2026-01-01T01:00:00.000Z');
    for (const [body, message] of [
      [{ to: '2026-01-01T00:30:00Z' }, /never goes back/],
      [{ to: '2026-01-01T02:00' }, /with a zone/],
      [{ advanceMs: -1 }, /at least 0/],
      [{ advanceMs: 1.5 }, /whole number/],
      [{ advanceMs: 5, to: '2026-01-02T00:00:00Z' }, /exactly one of advanceMs or to/],
      [{}, /exactly one of advanceMs or to/],
      [{ advanceSeconds: 5 }, /unknown clock field "advanceSeconds"/],
      [{ advanceMs: 10 * 366 * 24 * 3_600_000 }, /at most/],
    ] as const) {
      const r = await clock(s, body);
      expect(r.status).toBe(400);
      expect(r.json).toMatchObject({ code: 'InvalidRequestException', message: expect.stringMatching(message) });
    }
    expect((await clock(s)).json.epochMs).toBe(T0 + 3_600_000);
  });
});

describe('scheduling through the AWS SDK', () => {
  it('SCHEDULED until startTime: no executions, ListJobs filters it, DescribeJob shows the configuration; then it rolls out', async () => {
    const s = await sim();
    const schedulingConfig = {
      startTime: at(T0 + 45 * MIN),
      endTime: at(T0 + 600 * MIN),
      endBehavior: 'CANCEL' as const,
      maintenanceWindows: [{ startTime: 'cron(0 1 * * ? *)', durationInMinutes: 120 }],
    };
    await create(s, 'sched', { schedulingConfig });
    await create(s, 'now');
    const job = await describe_(s, 'sched');
    expect(job).toMatchObject({ status: 'SCHEDULED', schedulingConfig, jobProcessDetails: { numberOfQueuedThings: 0 } });
    expect(job?.scheduledJobRollouts).toEqual([{ startTime: '2026-01-01T01:00' }]);
    expect(await things(s, 'sched')).toEqual([]);
    const listed = await s.iot.send(new ListJobsCommand({ status: 'SCHEDULED' }));
    expect(listed.jobs?.map((j) => j.jobId)).toEqual(['sched']);
    await clock(s, { advanceMs: 45 * MIN });
    // Started, but the first maintenance window opens at 01:00.
    expect((await describe_(s, 'sched'))?.status).toBe('IN_PROGRESS');
    expect(await things(s, 'sched')).toEqual([]);
    await clock(s, { to: '2026-01-01T01:00:00Z' });
    expect(await things(s, 'sched')).toEqual(['a', 'b', 'c']);
    await clock(s, { to: '2026-01-01T10:00:00Z' });
    expect(await describe_(s, 'sched')).toMatchObject({ status: 'CANCELED', jobProcessDetails: { numberOfCanceledThings: 3 } });
  });

  it('refuses what AWS refuses, with InvalidRequestException', async () => {
    const s = await sim();
    const cases: [Partial<CreateJobCommandInput>, RegExp][] = [
      [{ schedulingConfig: { startTime: at(T0 + 10 * MIN) } }, /startTime must be at least 30 minutes from the current time/],
      [{ schedulingConfig: { startTime: at(T0 + 60 * MIN), endTime: at(T0 + 70 * MIN) } }, /at least 30 minutes after startTime/],
      [{ schedulingConfig: { maintenanceWindows: [{ startTime: 'cron(0 1 * * * *)', durationInMinutes: 60 }] } }, /exactly one of day-of-month and day-of-week/],
      [{ schedulingConfig: { maintenanceWindows: [{ startTime: 'cron(0 1 * * ? *)', durationInMinutes: 1431 }] } }, /1 to 1430/],
      [{ jobExecutionsRolloutConfig: { maximumPerMinute: 0 } }, /maximumPerMinute must be an integer from 1 to 1000/],
      [{ jobExecutionsRolloutConfig: { exponentialRate: { baseRatePerMinute: 5, incrementFactor: 1.05, rateIncreaseCriteria: { numberOfNotifiedThings: 1 } } } }, /incrementFactor/],
      [{ abortConfig: { criteriaList: [{ failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 101, minNumberOfExecutedThings: 1 }] } }, /thresholdPercentage/],
      [{ abortConfig: { criteriaList: [] } }, /at least one criterion/],
    ];
    for (const [extra, message] of cases) {
      const e = await sdkError(create(s, 'bad', extra));
      expect(e).toMatchObject({ name: 'InvalidRequestException', status: 400 });
      expect(e.message).toMatch(message);
    }
    expect((await s.iot.send(new ListJobsCommand({}))).jobs).toEqual([]);
  });

  it('a SCHEDULED job is canceled or deleted without force; a canceled one never starts', async () => {
    const s = await sim();
    await create(s, 'c1', { schedulingConfig: { startTime: at(T0 + 40 * MIN) } });
    await create(s, 'd1', { schedulingConfig: { startTime: at(T0 + 40 * MIN) } });
    await s.iot.send(new CancelJobCommand({ jobId: 'c1', comment: 'not today' }));
    await s.iot.send(new DeleteJobCommand({ jobId: 'd1' }));
    await clock(s, { advanceMs: 60 * MIN });
    expect(await describe_(s, 'c1')).toMatchObject({ status: 'CANCELED', comment: 'not today' });
    expect(await things(s, 'c1')).toEqual([]);
    expect((await sdkError(describe_(s, 'd1'))).name).toBe('ResourceNotFoundException');
  });

  it('a scheduled CONTINUOUS job follows group changes made before it starts', async () => {
    const s = await sim();
    await s.iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet' }));
    for (const t of ['a', 'b']) await s.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'fleet', thingName: t }));
    await s.iot.send(
      new CreateJobCommand({ jobId: 'cont', targets: [GARN('fleet')], document: DOC, targetSelection: 'CONTINUOUS', schedulingConfig: { startTime: at(T0 + 30 * MIN) } }),
    );
    await s.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'fleet', thingName: 'c' }));
    await s.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: 'fleet', thingName: 'a' }));
    expect(await things(s, 'cont')).toEqual([]);
    await clock(s, { advanceMs: 30 * MIN });
    expect((await things(s, 'cont')).sort()).toEqual(['b', 'c']);
  });
});

describe('rollout and abort through the AWS SDK', () => {
  it('maximumPerMinute paces executions; UpdateJob changes the rate from the next minute', async () => {
    const s = await sim();
    await s.iot.send(new CreateJobCommand({ jobId: 'r', targets: ['a', 'b', 'c', 'd'].map(ARN), document: DOC, jobExecutionsRolloutConfig: { maximumPerMinute: 1 } }));
    expect(await things(s, 'r')).toEqual(['a']);
    await s.iot.send(new UpdateJobCommand({ jobId: 'r', jobExecutionsRolloutConfig: { maximumPerMinute: 3 } }));
    expect(await things(s, 'r')).toEqual(['a']);
    await clock(s, { advanceMs: MIN });
    expect(await things(s, 'r')).toEqual(['a', 'b', 'c', 'd']);
    expect((await describe_(s, 'r'))?.jobExecutionsRolloutConfig).toEqual({ maximumPerMinute: 3 });
  });

  it('exponentialRate is echoed as given', async () => {
    const s = await sim();
    const jobExecutionsRolloutConfig = { exponentialRate: { baseRatePerMinute: 1, incrementFactor: 1.5, rateIncreaseCriteria: { numberOfNotifiedThings: 2 } } };
    await create(s, 'x', { jobExecutionsRolloutConfig });
    expect((await describe_(s, 'x'))?.jobExecutionsRolloutConfig).toEqual(jobExecutionsRolloutConfig);
    await clock(s, { advanceMs: 2 * MIN });
    expect(await things(s, 'x')).toEqual(['a', 'b', 'c']);
  });

  it('abort criteria cancel the job and its QUEUED executions, with the reason on the job', async () => {
    const s = await sim();
    const abortConfig = { criteriaList: [{ failureType: 'FAILED' as const, action: 'CANCEL' as const, thresholdPercentage: 50, minNumberOfExecutedThings: 1 }] };
    await create(s, 'ab', { abortConfig });
    expect(s.runtime.service.httpUpdate('a', 'ab', { status: 'FAILED' }).ok).toBe(true);
    const job = await describe_(s, 'ab');
    expect(job).toMatchObject({ status: 'CANCELED', reasonCode: 'ABORT_CRITERIA_MET', abortConfig, jobProcessDetails: { numberOfFailedThings: 1, numberOfCanceledThings: 2 } });
    expect(job?.comment).toMatch(/1 of 1 executed things ended FAILED, meeting the 50% threshold/);
  });

  it('UpdateJob abortConfig is checked at once against what has finished', async () => {
    const s = await sim();
    await create(s, 'late');
    s.runtime.service.httpUpdate('a', 'late', { status: 'REJECTED' });
    s.runtime.service.httpUpdate('b', 'late', { status: 'SUCCEEDED' });
    expect((await describe_(s, 'late'))?.status).toBe('IN_PROGRESS');
    await s.iot.send(
      new UpdateJobCommand({ jobId: 'late', abortConfig: { criteriaList: [{ failureType: 'ALL', action: 'CANCEL', thresholdPercentage: 50, minNumberOfExecutedThings: 2 }] } }),
    );
    expect(await describe_(s, 'late')).toMatchObject({ status: 'CANCELED', jobProcessDetails: { numberOfCanceledThings: 1 } });
  });

  it('UpdateJob has no scheduling member: a raw request carrying one is refused by name', async () => {
    const s = await sim();
    await create(s, 'u');
    const res = await fetch(`${s.base}/jobs/u`, { method: 'PATCH', body: JSON.stringify({ schedulingConfig: { endTime: at(T0 + 60 * MIN) } }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'InvalidRequestException', message: expect.stringMatching(/schedulingConfig is not a known member/) });
  });
});
