/**
 * Fleets in the local Jobs service driven by @aws-sdk/client-iot over real HTTP: thing groups,
 * SNAPSHOT / CONTINUOUS targets, REMOVED, AssociateTargetsWithJob, retries with executionNumber,
 * UpdateJob, DeleteJobExecution, GetJobDocument, ListJobs and jobProcessDetails. Device moves go
 * through the service's data-plane entry points (the HTTPS front itself is tested elsewhere).
 */
import {
  AddThingToThingGroupCommand,
  AssociateTargetsWithJobCommand,
  CreateJobCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DeleteJobExecutionCommand,
  DeleteThingGroupCommand,
  DescribeJobCommand,
  DescribeJobExecutionCommand,
  DescribeThingGroupCommand,
  GetJobDocumentCommand,
  IoTClient,
  ListJobExecutionsForJobCommand,
  ListJobExecutionsForThingCommand,
  ListJobsCommand,
  ListThingGroupsCommand,
  ListThingGroupsForThingCommand,
  ListThingsInThingGroupCommand,
  RemoveThingFromThingGroupCommand,
  UpdateJobCommand,
  UpdateThingGroupsForThingCommand,
} from '@aws-sdk/client-iot';
import { ManualClock } from '../../src/lib/clock';
import { startControlPlane } from '../../src/sim/fronts/http-control-plane';
import type { RunningServer } from '../../src/sim/fronts/http-util';
import { JobsService } from '../../src/sim/service';
import type { SimOptions } from '../../src/sim/types';
import { sdkError } from '../support/sdk';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' };
const ARN = (t: string): string => `arn:aws:iot:us-east-1:123456789012:thing/${t}`;
const GARN = (g: string): string => `arn:aws:iot:us-east-1:123456789012:thinggroup/${g}`;
const DOC = JSON.stringify({ operation: 'exec', command: ['true'] });

interface Fleet {
  service: JobsService;
  clock: ManualClock;
  iot: IoTClient;
  server: RunningServer;
}

const open: Fleet[] = [];

async function fleet(options: Partial<SimOptions> = {}): Promise<Fleet> {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const service = new JobsService({ clock, publish: () => undefined, options });
  const server = await startControlPlane({ service, host: '127.0.0.1', port: 0 });
  const iot = new IoTClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${server.port}`, credentials, maxAttempts: 1 });
  const f = { service, clock, iot, server };
  open.push(f);
  for (const t of ['a', 'b', 'c', 'd']) await iot.send(new CreateThingCommand({ thingName: t }));
  return f;
}

afterAll(async () => {
  for (const f of open) {
    f.iot.destroy();
    await f.server.close();
  }
});


async function statusOf(f: Fleet, jobId: string, thing: string, executionNumber?: number): Promise<{ status?: string; executionNumber?: number }> {
  const r = await f.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: thing, ...(executionNumber !== undefined ? { executionNumber } : {}) }));
  return { status: r.execution?.status, executionNumber: r.execution?.executionNumber };
}

/** The device side: start and finish an execution over the data-plane entry points. */
function device(f: Fleet, thing: string, jobId: string, status: 'SUCCEEDED' | 'FAILED' | 'IN_PROGRESS'): void {
  const r = f.service.httpUpdate(thing, jobId, { status });
  if (!r.ok) throw new Error(`${thing}/${jobId} → ${status}: ${r.error.name} ${r.error.message}`);
}

async function counts(f: Fleet, jobId: string): Promise<Record<string, number | undefined>> {
  const d = (await f.iot.send(new DescribeJobCommand({ jobId }))).job?.jobProcessDetails ?? {};
  return Object.fromEntries(Object.entries(d).filter(([k]) => k.startsWith('numberOf')));
}

describe('thing groups through the SDK', () => {
  it('nests groups, lists members recursively and refuses what AWS refuses', async () => {
    const f = await fleet();
    const root = await f.iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet', thingGroupProperties: { thingGroupDescription: 'all' } }));
    expect(root).toMatchObject({ thingGroupName: 'fleet', thingGroupArn: GARN('fleet'), thingGroupId: expect.any(String) });
    await f.iot.send(new CreateThingGroupCommand({ thingGroupName: 'eu', parentGroupName: 'fleet' }));
    await f.iot.send(new CreateThingGroupCommand({ thingGroupName: 'eu-canary', parentGroupName: 'eu' }));
    const d = await f.iot.send(new DescribeThingGroupCommand({ thingGroupName: 'eu-canary' }));
    expect(d.thingGroupMetadata?.parentGroupName).toBe('eu');
    expect(d.thingGroupMetadata?.rootToParentThingGroups?.map((g) => g.groupName)).toEqual(['fleet', 'eu']);

    await f.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'eu-canary', thingName: 'a' }));
    await f.iot.send(new AddThingToThingGroupCommand({ thingGroupArn: GARN('eu'), thingArn: ARN('b') }));
    expect((await f.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'fleet' }))).things).toEqual([]);
    expect((await f.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'fleet', recursive: true }))).things?.sort()).toEqual(['a', 'b']);
    expect((await f.iot.send(new ListThingGroupsForThingCommand({ thingName: 'a' }))).thingGroups?.map((g) => g.groupName).sort()).toEqual(['eu', 'eu-canary', 'fleet']);
    expect((await f.iot.send(new ListThingGroupsCommand({ parentGroup: 'fleet', recursive: true }))).thingGroups?.map((g) => g.groupName)).toEqual(['eu', 'eu-canary']);

    // One hierarchy per thing: a is in eu-canary, so eu (same root) is refused.
    expect(await sdkError(f.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'eu', thingName: 'a' })))).toMatchObject({ name: 'InvalidRequestException', status: 400 });
    expect(await sdkError(f.iot.send(new CreateThingGroupCommand({ thingGroupName: 'eu' })))).toMatchObject({ name: 'ResourceAlreadyExistsException', status: 409 });
    expect(await sdkError(f.iot.send(new DeleteThingGroupCommand({ thingGroupName: 'eu' })))).toMatchObject({ name: 'InvalidRequestException', message: expect.stringMatching(/child groups/) });
    expect(await sdkError(f.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'nope', thingName: 'a' })))).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
    expect(await sdkError(f.iot.send(new CreateThingGroupCommand({ thingGroupName: 'x', thingGroupProperties: { thingGroupDescription: 'tab\there' } })))).toMatchObject({ name: 'InvalidRequestException' });

    // A refused UpdateThingGroupsForThing changes nothing.
    await f.iot.send(new CreateThingGroupCommand({ thingGroupName: 'lab' }));
    expect(await sdkError(f.iot.send(new UpdateThingGroupsForThingCommand({ thingName: 'a', thingGroupsToAdd: ['lab', 'eu'] })))).toMatchObject({ name: 'InvalidRequestException' });
    expect((await f.iot.send(new ListThingGroupsForThingCommand({ thingName: 'a' }))).thingGroups?.map((g) => g.groupName).sort()).toEqual(['eu', 'eu-canary', 'fleet']);
  });
});

describe('target selection', () => {
  it('SNAPSHOT takes the members at creation; CONTINUOUS follows joins and leaves (QUEUED → REMOVED)', async () => {
    const f = await fleet();
    await f.iot.send(new CreateThingGroupCommand({ thingGroupName: 'g' }));
    await f.iot.send(new CreateThingGroupCommand({ thingGroupName: 'g-child', parentGroupName: 'g' }));
    await f.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'g', thingName: 'a' }));
    await f.iot.send(new CreateJobCommand({ jobId: 'snap', targets: [GARN('g')], document: DOC }));
    await f.iot.send(new CreateJobCommand({ jobId: 'cont', targets: [GARN('g')], document: DOC, targetSelection: 'CONTINUOUS' }));

    await f.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'g-child', thingName: 'b' }));
    const snap = await f.iot.send(new ListJobExecutionsForJobCommand({ jobId: 'snap' }));
    expect(snap.executionSummaries?.map((e) => e.thingArn)).toEqual([ARN('a')]);
    const cont = await f.iot.send(new ListJobExecutionsForJobCommand({ jobId: 'cont' }));
    expect(cont.executionSummaries?.map((e) => e.thingArn)).toEqual([ARN('a'), ARN('b')]);

    await f.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: 'g-child', thingName: 'b' }));
    expect(await statusOf(f, 'cont', 'b')).toEqual({ status: 'REMOVED', executionNumber: 1 });
    expect(await statusOf(f, 'snap', 'a')).toMatchObject({ status: 'QUEUED' });
    expect(await counts(f, 'cont')).toMatchObject({ numberOfQueuedThings: 1, numberOfRemovedThings: 1 });

    // Joining again starts a new execution: the next number.
    await f.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'g', thingName: 'b' }));
    expect(await statusOf(f, 'cont', 'b')).toEqual({ status: 'QUEUED', executionNumber: 2 });
    expect((await f.iot.send(new ListJobsCommand({ thingGroupName: 'g', targetSelection: 'CONTINUOUS' }))).jobs?.map((j) => j.jobId)).toEqual(['cont']);
  });

  it('an IN_PROGRESS execution whose thing leaves becomes REMOVED, or keeps running with inProgressOnLeave=keep', async () => {
    for (const [option, expected] of [['REMOVED', 'REMOVED'], ['keep', 'IN_PROGRESS']] as const) {
      const f = await fleet({ inProgressOnLeave: option });
      await f.iot.send(new CreateThingGroupCommand({ thingGroupName: 'g' }));
      await f.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'g', thingName: 'a' }));
      await f.iot.send(new CreateJobCommand({ jobId: 'c', targets: [GARN('g')], document: DOC, targetSelection: 'CONTINUOUS' }));
      device(f, 'a', 'c', 'IN_PROGRESS');
      await f.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: 'g', thingName: 'a' }));
      expect(await statusOf(f, 'c', 'a')).toMatchObject({ status: expected });
      const update = f.service.httpUpdate('a', 'c', { status: 'SUCCEEDED' });
      expect(update.ok).toBe(option === 'keep');
    }
  });

  it('AssociateTargetsWithJob adds groups to a continuous job, and only to one', async () => {
    const f = await fleet();
    await f.iot.send(new CreateThingGroupCommand({ thingGroupName: 'g1' }));
    await f.iot.send(new CreateThingGroupCommand({ thingGroupName: 'g2' }));
    await f.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'g1', thingName: 'a' }));
    await f.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'g2', thingName: 'b' }));
    await f.iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'g2', thingName: 'a' }));
    await f.iot.send(new CreateJobCommand({ jobId: 'c', targets: [GARN('g1')], document: DOC, targetSelection: 'CONTINUOUS' }));
    const r = await f.iot.send(new AssociateTargetsWithJobCommand({ jobId: 'c', targets: [GARN('g2')], comment: 'widen' }));
    expect(r).toMatchObject({ jobId: 'c', jobArn: expect.stringContaining(':job/c') });
    const listed = await f.iot.send(new ListJobExecutionsForJobCommand({ jobId: 'c' }));
    expect(listed.executionSummaries?.map((e) => [e.thingArn, e.jobExecutionSummary?.executionNumber])).toEqual([
      [ARN('a'), 1],
      [ARN('b'), 1],
    ]);
    expect((await f.iot.send(new DescribeJobCommand({ jobId: 'c' }))).job?.targets).toEqual([GARN('g1'), GARN('g2')]);

    await f.iot.send(new CreateJobCommand({ jobId: 's', targets: [GARN('g1')], document: DOC }));
    expect(await sdkError(f.iot.send(new AssociateTargetsWithJobCommand({ jobId: 's', targets: [GARN('g2')] })))).toMatchObject({ name: 'InvalidRequestException' });
    expect(await sdkError(f.iot.send(new AssociateTargetsWithJobCommand({ jobId: 'c', targets: [GARN('missing')] })))).toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('retries', () => {
  it('a FAILED execution is followed by executionNumber 2, while the budget lasts', async () => {
    const f = await fleet();
    await f.iot.send(
      new CreateJobCommand({ jobId: 'r', targets: [ARN('a')], document: DOC, jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 1 }] } }),
    );
    device(f, 'a', 'r', 'FAILED');
    expect(await statusOf(f, 'r', 'a')).toEqual({ status: 'QUEUED', executionNumber: 2 });
    expect(await statusOf(f, 'r', 'a', 1)).toEqual({ status: 'FAILED', executionNumber: 1 });
    const pending = f.service.httpGetPending('a');
    expect(pending.ok && pending.value.queuedJobs.map((j) => [j.jobId, j.executionNumber])).toEqual([['r', 2]]);
    const forThing = await f.iot.send(new ListJobExecutionsForThingCommand({ thingName: 'a' }));
    expect(forThing.executionSummaries?.[0]?.jobExecutionSummary).toMatchObject({ status: 'QUEUED', executionNumber: 2, retryAttempt: 1 });
    expect((await f.iot.send(new DescribeJobCommand({ jobId: 'r' }))).job).toMatchObject({
      status: 'IN_PROGRESS',
      jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 1 }] },
      jobProcessDetails: { numberOfQueuedThings: 1, numberOfFailedThings: 0 },
    });

    const history = await f.iot.send(new ListJobExecutionsForThingCommand({ thingName: 'a', jobId: 'r' }));
    expect(history.executionSummaries?.map((e) => [e.jobExecutionSummary?.executionNumber, e.jobExecutionSummary?.status])).toEqual([
      [1, 'FAILED'],
      [2, 'QUEUED'],
    ]);

    device(f, 'a', 'r', 'FAILED'); // the budget is spent: no third execution
    expect(await statusOf(f, 'r', 'a')).toEqual({ status: 'FAILED', executionNumber: 2 });
    expect((await f.iot.send(new DescribeJobCommand({ jobId: 'r' }))).job).toMatchObject({ status: 'COMPLETED', jobProcessDetails: { numberOfFailedThings: 1 } });
  });

  it('TIMED_OUT is retried under its own criterion; UpdateJob can change the budget', async () => {
    const f = await fleet();
    await f.iot.send(
      new CreateJobCommand({
        jobId: 't',
        targets: [ARN('a')],
        document: DOC,
        timeoutConfig: { inProgressTimeoutInMinutes: 1 },
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'TIMED_OUT', numberOfRetries: 2 }] },
      }),
    );
    device(f, 'a', 't', 'IN_PROGRESS');
    f.clock.advance(61_000);
    f.service.tick();
    expect(await statusOf(f, 't', 'a')).toEqual({ status: 'QUEUED', executionNumber: 2 });
    device(f, 'a', 't', 'FAILED'); // FAILED has no criterion here
    expect(await statusOf(f, 't', 'a')).toEqual({ status: 'FAILED', executionNumber: 2 });

    await f.iot.send(new CreateJobCommand({ jobId: 'u', targets: [ARN('b')], document: DOC }));
    await f.iot.send(new UpdateJobCommand({ jobId: 'u', description: 'now retried', jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'ALL', numberOfRetries: 3 }] } }));
    device(f, 'b', 'u', 'FAILED');
    expect(await statusOf(f, 'u', 'b')).toEqual({ status: 'QUEUED', executionNumber: 2 });
    expect((await f.iot.send(new DescribeJobCommand({ jobId: 'u' }))).job?.description).toBe('now retried');
  });
});

describe('the rest of the job lifecycle', () => {
  it('DeleteJobExecution needs force for a pending execution; the device then finds it gone', async () => {
    const f = await fleet();
    await f.iot.send(new CreateJobCommand({ jobId: 'd', targets: [ARN('a'), ARN('b')], document: DOC }));
    device(f, 'a', 'd', 'IN_PROGRESS');
    expect(await sdkError(f.iot.send(new DeleteJobExecutionCommand({ jobId: 'd', thingName: 'a', executionNumber: 1 })))).toMatchObject({
      name: 'InvalidStateTransitionException',
      status: 409,
    });
    await f.iot.send(new DeleteJobExecutionCommand({ jobId: 'd', thingName: 'a', executionNumber: 1, force: true }));
    const gone = f.service.httpDescribe('a', 'd', {});
    expect(gone.ok ? 'found' : gone.error.name).toBe('ResourceNotFoundException');
    device(f, 'b', 'd', 'SUCCEEDED');
    await f.iot.send(new DeleteJobExecutionCommand({ jobId: 'd', thingName: 'b', executionNumber: 1 }));
    expect(await sdkError(f.iot.send(new DeleteJobExecutionCommand({ jobId: 'd', thingName: 'b', executionNumber: 1 })))).toMatchObject({ name: 'ResourceNotFoundException' });
    expect(await counts(f, 'd')).toMatchObject({ numberOfSucceededThings: 0, numberOfInProgressThings: 0 });
  });

  it('GetJobDocument and ListJobs with filters and pages', async () => {
    const f = await fleet();
    await f.iot.send(new CreateThingGroupCommand({ thingGroupName: 'g' }));
    await f.iot.send(new CreateJobCommand({ jobId: 'l1', targets: [ARN('a')], document: DOC }));
    await f.iot.send(new CreateJobCommand({ jobId: 'l2', targets: [GARN('g')], document: DOC, targetSelection: 'CONTINUOUS' }));
    await f.iot.send(new CreateJobCommand({ jobId: 'l3', targets: [ARN('b')], document: DOC, namespaceId: 'ns1' }));
    expect((await f.iot.send(new GetJobDocumentCommand({ jobId: 'l1' }))).document).toBe(DOC);
    const p1 = await f.iot.send(new ListJobsCommand({ maxResults: 2 }));
    const p2 = await f.iot.send(new ListJobsCommand({ maxResults: 2, nextToken: p1.nextToken }));
    expect([...(p1.jobs ?? []), ...(p2.jobs ?? [])].map((j) => j.jobId)).toEqual(['l1', 'l2', 'l3']);
    expect((await f.iot.send(new ListJobsCommand({ namespaceId: 'ns1' }))).jobs?.map((j) => j.jobId)).toEqual(['l3']);
    const byGroup = await f.iot.send(new ListJobsCommand({ thingGroupName: 'g' }));
    expect(byGroup.jobs).toMatchObject([{ jobId: 'l2', targetSelection: 'CONTINUOUS', status: 'IN_PROGRESS', thingGroupId: expect.any(String) }]);
    expect(await sdkError(f.iot.send(new ListJobsCommand({ status: 'DONE' as never })))).toMatchObject({ name: 'InvalidRequestException' });
  });

  it('unsupported and unknown members are refused by name, nothing created', async () => {
    const f = await fleet();
    const abort = await sdkError(
      f.iot.send(
        new CreateJobCommand({
          jobId: 'x',
          targets: [ARN('a')],
          document: DOC,
          documentSource: 'https://example-bucket.s3.amazonaws.com/doc.json',
        }),
      ),
    );
    expect(abort).toMatchObject({ name: 'InvalidRequestException', status: 400, message: expect.stringMatching(/documentSource is not supported/) });
    const budget = await sdkError(
      f.iot.send(new CreateJobCommand({ jobId: 'x', targets: [ARN('a')], document: DOC, jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 11 }] } })),
    );
    expect(budget).toMatchObject({ name: 'InvalidRequestException', message: expect.stringMatching(/numberOfRetries must be at most 10/) });
    expect(await sdkError(f.iot.send(new DescribeJobCommand({ jobId: 'x' })))).toMatchObject({ name: 'ResourceNotFoundException' });
    expect(await sdkError(f.iot.send(new UpdateJobCommand({ jobId: 'missing', description: 'd' })))).toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
