/**
 * The sim against the AWS IoT Device Client 1.10.19's side of the wire (test/support/device-client-wire.ts
 * replays it exactly), over mosquitto (the sim joined as a client) and over the embedded broker.
 * With the defaults every sample job reaches a terminal state in creation order, output with line
 * feeds included (docs/PROTOCOL.md §10.23); a restarted device gets its IN_PROGRESS execution back
 * from start-next; presigned URLs look like AWS's, so its duplicate check recognises a re-announced
 * job (§10.22). Every refusal leaves a line in the sim's log.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { createLogger } from '../../src/lib/log';
import { startJobsService } from '../../src/sim/start';
import type { JobsServiceHandle, StartJobsServiceOptions } from '../../src/sim/start';
import type { SimOptions } from '../../src/sim/types';
import { DeviceClientWire, dcNormalise } from '../support/device-client-wire';
import type { DcOutcome, DcRun } from '../support/device-client-wire';
import { startStack } from '../support/stack';

const THING = 'dcthing';

interface Front {
  sim: JobsServiceHandle;
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

function capture(): { logs: Record<string, unknown>[]; log: ReturnType<typeof createLogger> } {
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logs, log: createLogger({ level: 'info', destination }) };
}

const FRONTS: [string, (options: Partial<SimOptions>) => Promise<Front>][] = [
  [
    'embedded broker',
    async (options) => {
      const dir = await mkdtemp(join(tmpdir(), 'ija-dcwire-'));
      const { logs, log } = capture();
      const o: StartJobsServiceOptions = { stateDir: join(dir, 'sim'), things: [THING], options, log };
      const sim = await startJobsService(o);
      return { sim, logs, close: async () => (await sim.close(), await rm(dir, { recursive: true, force: true })) };
    },
  ],
  [
    'mosquitto',
    async (options) => {
      const { logs, log } = capture();
      const stack = await startStack({ things: [THING], sim: { options, log } });
      return { sim: stack.sim, logs, close: () => stack.close() };
    },
  ],
];

/** The sample jobs of the Device Client run: its integration-test document `echo,Hello World` among them. */
const SAMPLES: { jobId: string; doc: Record<string, unknown>; out: DcOutcome }[] = [
  { jobId: 'echo-hello', doc: { operation: 'echo', args: ['Hello World'], includeStdOut: 'true' }, out: { status: 'SUCCEEDED', stdout: 'Hello World\n' } },
  { jobId: 'two-lines', doc: { operation: 'echo-two', args: [] }, out: { status: 'SUCCEEDED', stdout: 'one\r\ntwo\n', stderr: 'warning:\tdeprecated\n' } },
  { jobId: 'exit-one', doc: { operation: 'false', args: [] }, out: { status: 'FAILED', reason: 'Job killed by signal: 1', stderr: 'it failed\n' } },
  { jobId: 'plain', doc: { operation: 'true', args: [] }, out: { status: 'SUCCEEDED' } },
];

function runSample(e: Parameters<DcRun>[0]): DcOutcome {
  const s = SAMPLES.find((x) => x.jobId === e.jobId);
  if (!s) throw new Error(`unexpected job ${e.jobId}`);
  return s.out;
}

function createJob(sim: JobsServiceHandle, jobId: string, doc: unknown): void {
  const r = sim.runtime.service.createJob({ jobId, targets: [THING], document: JSON.stringify(doc) });
  if (!r.ok) throw new Error(r.error.message);
}

function execution(sim: JobsServiceHandle, jobId: string): Record<string, unknown> {
  const r = sim.runtime.service.describeJobExecutionControl(jobId, THING);
  if (!r.ok) throw new Error(r.error.message);
  return r.value.execution;
}

const endpoint = (sim: JobsServiceHandle): ConstructorParameters<typeof DeviceClientWire>[0] => {
  const files = sim.endpoints.things[THING];
  if (!files) throw new Error('no thing files');
  return { url: sim.endpoints.mqtt, caFile: sim.endpoints.caFile, files };
};

describe.each(FRONTS)('the Device Client wire over the %s', (frontName, startFront) => {
  let front: Front | undefined;
  let device: DeviceClientWire | undefined;
  afterEach(async () => {
    await device?.stop();
    await front?.close();
    device = undefined;
    front = undefined;
  });

  it('gets every sample job to a terminal state in creation order, output with line feeds kept (defaults)', async () => {
    front = await startFront({});
    const sim = front.sim;
    for (const s of SAMPLES) createJob(sim, s.jobId, s.doc);
    device = new DeviceClientWire(endpoint(sim), THING, runSample);
    await device.start();
    const d = device;
    await d.until(() => d.log.received.filter((m) => m.topic.endsWith('/update/accepted')).length === 2 * SAMPLES.length);
    expect(d.log.ran).toEqual(SAMPLES.map((s) => s.jobId));
    for (const s of SAMPLES) {
      const details: Record<string, string> = {};
      for (const k of ['reason', 'stdout', 'stderr'] as const) if (s.out[k]) details[k] = s.out[k];
      expect(execution(sim, s.jobId)).toMatchObject({ status: s.out.status, statusDetails: { detailsMap: details } });
    }
    expect(d.log.received.filter((m) => m.topic.endsWith('/update/rejected'))).toEqual([]);
    // "Five SUBSCRIBEs at QoS 1": notifications arrive at QoS 1 on both fronts.
    expect(d.log.received.filter((m) => m.topic === 'notify-next').every((m) => m.qos === 1)).toBe(true);
    if (frontName === 'embedded broker') {
      // "with ALPN available (always, on Linux) it connects … with ALPN `x-amzn-mqtt-ca`": selected, as AWS does.
      expect(d.log.alpn).toBe('x-amzn-mqtt-ca');
      // Answers go to the requester at QoS 0 by default (§10.24).
      expect(d.log.received.filter((m) => m.topic.endsWith('/accepted')).every((m) => m.qos === 0)).toBe(true);
    }
  }, 30_000);

  it('refuses the line feed under statusDetailsControlChars=strict, and logs why with the thing and the request', async () => {
    front = await startFront({ statusDetailsControlChars: 'strict' });
    const sim = front.sim;
    createJob(sim, 'echo-hello', SAMPLES[0]?.doc);
    device = new DeviceClientWire(endpoint(sim), THING, runSample);
    await device.start();
    const d = device;
    await d.until(() => d.log.received.some((m) => m.topic === 'echo-hello/update/rejected'));
    const rejected = d.log.received.find((m) => m.topic === 'echo-hello/update/rejected');
    expect(rejected?.payload).toMatchObject({ code: 'InvalidRequest', message: 'statusDetails.stdout contains control characters' });
    // The execution stays IN_PROGRESS: what made the Device Client's jobs hang.
    expect(execution(sim, 'echo-hello')).toMatchObject({ status: 'IN_PROGRESS' });
    const line = front.logs.find((l) => l.msg === 'request refused');
    expect(line).toMatchObject({
      level: 'info',
      thing: THING,
      request: `$aws/things/${THING}/jobs/echo-hello/update`,
      code: 'InvalidRequest',
      reason: 'statusDetails.stdout contains control characters',
    });
    expect(typeof line?.clientToken).toBe('string');
  }, 30_000);

  it('hands a restarted device its IN_PROGRESS execution back from start-next, unchanged', async () => {
    front = await startFront({});
    const sim = front.sim;
    createJob(sim, 'long-job', { operation: 'sleep', args: ['600'] });
    // The first run reports IN_PROGRESS only: it is killed while the command runs.
    const d1 = new DeviceClientWire(endpoint(sim), THING, () => undefined);
    device = d1;
    await d1.start();
    await d1.until(() => d1.log.received.some((m) => m.topic === 'long-job/update/accepted'));
    // start-next started it (version 2), the Device Client's own IN_PROGRESS update moved it on (3).
    expect(execution(sim, 'long-job')).toMatchObject({ status: 'IN_PROGRESS', versionNumber: 3 });
    d1.kill();
    // "A restart that gets its IN_PROGRESS execution back from start-next": same client id, clean
    // session false, the same five subscriptions and `{}` again.
    const d2 = new DeviceClientWire(endpoint(sim), THING, () => ({ status: 'SUCCEEDED', stdout: 'done\n' }));
    device = d2;
    await d2.start();
    await d2.until(() => d2.log.received.some((m) => m.topic === 'start-next/accepted'));
    const answer = d2.log.received.find((m) => m.topic === 'start-next/accepted')?.payload;
    expect(answer?.execution).toMatchObject({ jobId: 'long-job', status: 'IN_PROGRESS', versionNumber: 3, executionNumber: 1 });
    await d2.until(() => d2.log.received.filter((m) => m.topic === 'long-job/update/accepted').length === 2);
    expect(execution(sim, 'long-job')).toMatchObject({ status: 'SUCCEEDED', statusDetails: { detailsMap: { stdout: 'done\n' } } });
  }, 30_000);

  it('runs a path-style presigned job once under duplicateNotifyNext: the URL comes back virtual-hosted, which its duplicate check normalises', async () => {
    front = await startFront({});
    const sim = front.sim;
    sim.runtime.service.setFaults(THING, { duplicateNotifyNext: true });
    const doc = { operation: 'download', args: ['${aws:iot:s3-presigned-url-v2:https://s3.us-west-2.amazonaws.com/my-bucket/fw.bin}', '/tmp/fw.bin'] };
    createJob(sim, 'download', doc);
    createJob(sim, 'after', { operation: 'true', args: [] });
    device = new DeviceClientWire(endpoint(sim), THING, () => ({ status: 'SUCCEEDED' }));
    await device.start();
    const d = device;
    await d.until(() => d.log.received.filter((m) => m.topic === 'after/update/accepted').length === 2);
    // Re-announcements of `download` came (the fault), each with a fresh URL …
    const announced = d.log.received.filter((m) => m.topic === 'notify-next' && (m.payload.execution as { jobId?: string } | undefined)?.jobId === 'download');
    expect(announced.length).toBeGreaterThan(0);
    const urls = announced.map((m) => ((m.payload.execution as { jobDocument: { args: string[] } }).jobDocument.args[0] ?? ''));
    for (const u of urls) expect(u).toMatch(/^https:\/\/my-bucket\.s3\.us-west-2\.amazonaws\.com\/fw\.bin\?X-Amz-Algorithm=/);
    // … and yet the device ran each job exactly once.
    expect(d.log.ran).toEqual(['download', 'after']);
    expect(new Set(announced.map((m) => dcNormalise(m.payload.execution)))).toEqual(new Set([dcNormalise(announced[0]?.payload.execution)]));
  }, 30_000);
});

describe('ALPN on the embedded broker', () => {
  let sim: JobsServiceHandle;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ija-alpn-'));
    sim = await startJobsService({ stateDir: join(dir, 'sim'), things: [THING], options: { answerQos: 1 } });
  });
  afterAll(async () => {
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  });

  const handshake = (protocols?: string[]): Promise<string | false> => {
    const url = new URL(sim.endpoints.mqtt);
    const files = sim.endpoints.things[THING];
    if (!files) throw new Error('no thing files');
    return new Promise((resolve, reject) => {
      const s = tlsConnect(
        {
          host: url.hostname,
          port: Number(url.port),
          ca: readFileSync(sim.endpoints.caFile),
          cert: readFileSync(files.certificateFile),
          key: readFileSync(files.privateKeyFile),
          ...(protocols ? { ALPNProtocols: protocols } : {}),
        },
        () => {
          const p = s.alpnProtocol ?? false;
          s.end();
          resolve(p);
        },
      );
      s.once('error', reject);
    });
  };

  it('selects x-amzn-mqtt-ca when offered, and negotiates none for a client that offers none (port 8883 style)', async () => {
    await expect(handshake(['x-amzn-mqtt-ca'])).resolves.toBe('x-amzn-mqtt-ca');
    await expect(handshake()).resolves.toBe(false);
  });

  it('hands answers over at QoS 1 with answerQos=1', async () => {
    createJob(sim, 'qos-job', { operation: 'true' });
    const device = new DeviceClientWire({ url: sim.endpoints.mqtt, caFile: sim.endpoints.caFile, files: sim.endpoints.things[THING]! }, THING, () => ({ status: 'SUCCEEDED' }));
    await device.start();
    await device.until(() => device.log.received.filter((m) => m.topic === 'qos-job/update/accepted').length === 2);
    const answers = device.log.received.filter((m) => m.topic.endsWith('/accepted'));
    expect(answers.map((m) => m.qos)).toEqual(answers.map(() => 1));
    await device.stop();
  }, 30_000);
});
