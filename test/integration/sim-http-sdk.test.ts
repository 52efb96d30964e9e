/**
 * The sim's HTTP fronts driven by AWS's own SDK clients over real sockets: the Jobs data plane over
 * mutual TLS with generated certificates, the IoT control plane over plain HTTP with an endpoint
 * override and dummy credentials (SigV4 headers are sent and ignored).
 */
import { Agent } from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeJobExecutionCommand,
  GetPendingJobExecutionsCommand,
  IoTJobsDataPlaneClient,
  StartNextPendingJobExecutionCommand,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane';
import {
  CancelJobCommand,
  CancelJobExecutionCommand,
  CreateJobCommand,
  CreateThingCommand,
  DeleteJobCommand,
  DescribeJobCommand,
  DescribeJobExecutionCommand as DescribeJobExecutionControlCommand,
  IoTClient,
  ListJobExecutionsForJobCommand,
  ListJobExecutionsForThingCommand,
} from '@aws-sdk/client-iot';
import { systemClock } from '../../src/lib/clock';
import { startControlPlane } from '../../src/sim/fronts/http-control-plane';
import { startDataPlane } from '../../src/sim/fronts/http-data-plane';
import type { RunningServer } from '../../src/sim/fronts/http-util';
import { JobsService } from '../../src/sim/service';
import type { SimOptions } from '../../src/sim/types';
import { makeTestPki, type TestPki } from '../support/pki';
import { sdkError } from '../support/sdk';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' };
const ARN = (t: string): string => `arn:aws:iot:us-east-1:123456789012:thing/${t}`;
const doc = (n: number): string => JSON.stringify({ operation: 'exec', n });

interface Stack {
  service: JobsService;
  data: RunningServer;
  agents: Agent[];
  dp(thing: string): IoTJobsDataPlaneClient;
}

let dir: string;
let pki: TestPki;
let serverTls: { caPem: string; certPem: string; keyPem: string };
const stacks: Stack[] = [];
const clients: { destroy(): void }[] = [];

async function stack(options?: Partial<SimOptions>): Promise<Stack> {
  const service = new JobsService({ clock: systemClock, publish: () => undefined, ...(options ? { options } : {}) });
  for (const t of ['thing1', 'thing2']) service.createThing(t);
  const data = await startDataPlane({ service, host: '127.0.0.1', port: 0, tls: serverTls });
  const agents: Agent[] = [];
  const s: Stack = {
    service,
    data,
    agents,
    dp: (thing) => {
      const files = pki.things[thing]!;
      const agent = new Agent({ ca: serverTls.caPem, cert: certs.get(files.certificateFile), key: certs.get(files.privateKeyFile), keepAlive: true });
      agents.push(agent);
      const c = new IoTJobsDataPlaneClient({
        region: 'us-east-1',
        endpoint: `https://127.0.0.1:${data.port}`,
        credentials,
        maxAttempts: 1,
        requestHandler: { httpsAgent: agent },
      });
      clients.push(c);
      return c;
    },
  };
  stacks.push(s);
  return s;
}

const certs = new Map<string, string>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sim-http-sdk-'));
  pki = await makeTestPki(dir, ['thing1', 'thing2']);
  serverTls = {
    caPem: pki.caCertPem,
    certPem: await readFile(pki.server.certificateFile, 'utf8'),
    keyPem: await readFile(pki.server.privateKeyFile, 'utf8'),
  };
  for (const f of Object.values(pki.things)) {
    certs.set(f.certificateFile, await readFile(f.certificateFile, 'utf8'));
    certs.set(f.privateKeyFile, await readFile(f.privateKeyFile, 'utf8'));
  }
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  for (const s of stacks) {
    for (const a of s.agents) a.destroy();
    await s.data.close();
  }
  await rm(dir, { recursive: true, force: true });
});


describe('IoT control plane through @aws-sdk/client-iot', () => {
  let control: RunningServer;
  let iot: IoTClient;
  let s: Stack;

  beforeAll(async () => {
    s = await stack();
    control = await startControlPlane({ service: s.service, host: '127.0.0.1', port: 0 });
    iot = new IoTClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${control.port}`, credentials, maxAttempts: 1 });
    clients.push(iot);
  });
  afterAll(() => control.close());

  it('creates a thing, creates, describes, lists, cancels and deletes jobs', async () => {
    const thing = await iot.send(new CreateThingCommand({ thingName: 'gw-7' }));
    expect(thing.thingName).toBe('gw-7');
    expect(thing.thingArn).toBe(ARN('gw-7'));
    expect(s.service.hasThing('gw-7')).toBe(true);

    const created = await iot.send(
      new CreateJobCommand({
        jobId: 'ctl-1',
        targets: [ARN('thing1'), ARN('gw-7')],
        document: doc(1),
        description: 'first',
        targetSelection: 'SNAPSHOT',
        timeoutConfig: { inProgressTimeoutInMinutes: 30 },
      }),
    );
    expect(created).toMatchObject({ jobId: 'ctl-1', jobArn: expect.stringContaining(':job/ctl-1'), description: 'first' });

    const described = await iot.send(new DescribeJobCommand({ jobId: 'ctl-1' }));
    expect(described.job?.jobId).toBe('ctl-1');
    expect(described.job?.status).toBe('IN_PROGRESS');
    expect(described.job?.createdAt).toBeInstanceOf(Date);

    const forThing = await iot.send(new ListJobExecutionsForThingCommand({ thingName: 'thing1' }));
    expect(forThing.executionSummaries?.map((e) => e.jobId)).toEqual(['ctl-1']);
    expect(forThing.executionSummaries?.[0]?.jobExecutionSummary?.status).toBe('QUEUED');

    const forJob = await iot.send(new ListJobExecutionsForJobCommand({ jobId: 'ctl-1', maxResults: 1 }));
    expect(forJob.executionSummaries).toHaveLength(1);
    expect(forJob.nextToken).toEqual(expect.any(String));
    const page2 = await iot.send(new ListJobExecutionsForJobCommand({ jobId: 'ctl-1', maxResults: 1, nextToken: forJob.nextToken }));
    const arns = [...(forJob.executionSummaries ?? []), ...(page2.executionSummaries ?? [])].map((e) => e.thingArn).sort();
    expect(arns).toEqual([ARN('gw-7'), ARN('thing1')]);

    const exec = await iot.send(new DescribeJobExecutionControlCommand({ jobId: 'ctl-1', thingName: 'thing1' }));
    expect(exec.execution).toMatchObject({ jobId: 'ctl-1', status: 'QUEUED', executionNumber: 1 });

    await iot.send(new CancelJobExecutionCommand({ jobId: 'ctl-1', thingName: 'gw-7' }));
    const gone = await iot.send(new DescribeJobExecutionControlCommand({ jobId: 'ctl-1', thingName: 'gw-7' }));
    expect(gone.execution?.status).toBe('CANCELED');

    const canceled = await iot.send(new CancelJobCommand({ jobId: 'ctl-1', comment: 'enough', reasonCode: 'OPS' }));
    expect(canceled.jobId).toBe('ctl-1');
    expect((await iot.send(new DescribeJobCommand({ jobId: 'ctl-1' }))).job?.status).toBe('CANCELED');

    await iot.send(new DeleteJobCommand({ jobId: 'ctl-1', force: true }));
    const missing = await sdkError(iot.send(new DescribeJobCommand({ jobId: 'ctl-1' })));
    expect(missing).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
  });

  it('decodes control-plane errors by name', async () => {
    await iot.send(new CreateJobCommand({ jobId: 'dup', targets: [ARN('thing2')], document: doc(2) }));
    expect(await sdkError(iot.send(new CreateJobCommand({ jobId: 'dup', targets: [ARN('thing2')], document: doc(2) })))).toMatchObject({
      name: 'ResourceAlreadyExistsException',
      status: 409,
    });
    expect(await sdkError(iot.send(new CreateJobCommand({ jobId: 'bad-doc', targets: [ARN('thing2')], document: '{nope' })))).toMatchObject({
      name: 'InvalidRequestException',
      status: 400,
    });
    expect(await sdkError(iot.send(new CreateJobCommand({ jobId: 'bad id!', targets: [ARN('thing2')], document: doc(3) })))).toMatchObject({
      name: 'InvalidRequestException',
    });
  });
});

describe('Jobs data plane through @aws-sdk/client-iot-jobs-data-plane', () => {
  let s: Stack;
  let dp: IoTJobsDataPlaneClient;

  beforeAll(async () => {
    s = await stack();
    dp = s.dp('thing1');
    for (const n of [1, 2]) {
      const r = s.service.createJob({ jobId: `job-${n}`, targets: [ARN('thing1')], document: doc(n) });
      expect(r.ok).toBe(true);
    }
  });

  it('runs the four operations', async () => {
    const pending = await dp.send(new GetPendingJobExecutionsCommand({ thingName: 'thing1' }));
    expect(pending.inProgressJobs).toEqual([]);
    expect(pending.queuedJobs?.map((j) => j.jobId)).toEqual(['job-1', 'job-2']);
    expect(Number.isInteger(pending.queuedJobs?.[0]?.queuedAt)).toBe(true);

    const next = await dp.send(new DescribeJobExecutionCommand({ thingName: 'thing1', jobId: '$next', includeJobDocument: true }));
    expect(next.execution).toMatchObject({ jobId: 'job-1', thingName: 'thing1', status: 'QUEUED', executionNumber: 1 });
    expect(JSON.parse(next.execution?.jobDocument ?? '')).toEqual({ operation: 'exec', n: 1 });

    const started = await dp.send(
      new StartNextPendingJobExecutionCommand({ thingName: 'thing1', statusDetails: { step: 'one' }, stepTimeoutInMinutes: 5 }),
    );
    expect(started.execution).toMatchObject({ jobId: 'job-1', status: 'IN_PROGRESS', statusDetails: { step: 'one' } });
    const version = started.execution?.versionNumber;

    const updated = await dp.send(
      new UpdateJobExecutionCommand({
        thingName: 'thing1',
        jobId: 'job-1',
        status: 'SUCCEEDED',
        expectedVersion: version,
        includeJobExecutionState: true,
        includeJobDocument: true,
      }),
    );
    expect(updated.executionState?.status).toBe('SUCCEEDED');
    expect(typeof updated.jobDocument).toBe('string');

    const one = await dp.send(new DescribeJobExecutionCommand({ thingName: 'thing1', jobId: 'job-1', executionNumber: 1 }));
    expect(one.execution?.status).toBe('SUCCEEDED');
    const after = await dp.send(new GetPendingJobExecutionsCommand({ thingName: 'thing1' }));
    expect(after.queuedJobs?.map((j) => j.jobId)).toEqual(['job-2']);
  });

  it('decodes not found, invalid request, invalid state transition and forbidden by name', async () => {
    expect(await sdkError(dp.send(new DescribeJobExecutionCommand({ thingName: 'thing1', jobId: 'nope' })))).toMatchObject({
      name: 'ResourceNotFoundException',
      status: 404,
      requestId: expect.any(String),
    });
    expect(await sdkError(dp.send(new StartNextPendingJobExecutionCommand({ thingName: 'thing1', stepTimeoutInMinutes: 0 })))).toMatchObject({
      name: 'InvalidRequestException',
      status: 400,
    });
    const bad = new UpdateJobExecutionCommand({ thingName: 'thing1', jobId: 'job-1', status: 'IN_PROGRESS' });
    expect(await sdkError(dp.send(bad))).toMatchObject({ name: 'InvalidStateTransitionException', status: 409 });
    expect(await sdkError(dp.send(new GetPendingJobExecutionsCommand({ thingName: 'thing2' })))).toMatchObject({
      name: 'ForbiddenException',
      status: 403,
    });
  });

  it('decodes injected throttling (429) and internal errors', async () => {
    s.service.setFaults('thing1', { throttle: 1 });
    expect(await sdkError(dp.send(new GetPendingJobExecutionsCommand({ thingName: 'thing1' })))).toMatchObject({
      name: 'ThrottlingException',
      status: 429,
    });
    s.service.setFaults('thing1', { internalError: 1 });
    expect(await sdkError(dp.send(new GetPendingJobExecutionsCommand({ thingName: 'thing1' })))).toMatchObject({
      name: 'ServiceUnavailableException',
      status: 503,
    });
    s.service.setFaults('thing1', {});
    await expect(dp.send(new GetPendingJobExecutionsCommand({ thingName: 'thing1' }))).resolves.toBeDefined();
  });
});

describe('data plane with the alternative docs/PROTOCOL.md §10 answers', () => {
  it('throttles with 400 and refuses describing a terminal execution with TerminalStateException', async () => {
    const s = await stack({ throttlingStatus: 400, describeTerminal: 'TerminalStateReached' });
    const dp = s.dp('thing2');
    expect(s.service.createJob({ jobId: 't-1', targets: [ARN('thing2')], document: doc(9) }).ok).toBe(true);
    await dp.send(new UpdateJobExecutionCommand({ thingName: 'thing2', jobId: 't-1', status: 'IN_PROGRESS' }));
    await dp.send(new UpdateJobExecutionCommand({ thingName: 'thing2', jobId: 't-1', status: 'FAILED' }));
    expect(await sdkError(dp.send(new DescribeJobExecutionCommand({ thingName: 'thing2', jobId: 't-1' })))).toMatchObject({
      name: 'TerminalStateException',
      status: 410,
    });
    s.service.setFaults('*', { throttle: 1 });
    expect(await sdkError(dp.send(new GetPendingJobExecutionsCommand({ thingName: 'thing2' })))).toMatchObject({
      name: 'ThrottlingException',
      status: 400,
    });
  });
});
