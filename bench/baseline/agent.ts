/**
 * BASELINE — not our agent. A minimal Node Jobs agent written the way the AWS IoT Device SDK v2
 * samples suggest, as the yardstick our agent is compared against in the benchmarks:
 * aws-iot-device-sdk-v2 `IotJobsClientv2` over aws-crt MQTT 5, subscribed to notify-next, and a loop
 * of StartNextPendingJobExecution → run a no-op → UpdateJobExecution SUCCEEDED, one job at a time.
 * It keeps nothing on disk (no journal, no crash recovery), has no handler loading, no retries and no
 * systemd integration — it is the least a device needs to execute jobs, so its figures are a floor
 * for work done per job in Node, not a competitor with equal guarantees.
 *
 * Runs in its own process (aws-crt keeps native resources alive and has aborted at process exit):
 * `node dist/bench/baseline/agent.js '<json>'` with {host, port, caFile, certificateFile,
 * privateKeyFile, thingName, startLog?}. Writes JSON lines on stdout: `connected`, `job started`,
 * `outcome reported` (same names as our agent's log), `error`.
 */
import { once } from 'node:events';
import { appendFileSync } from 'node:fs';
import { iot, mqtt5 } from 'aws-crt';
import { iotjobs } from 'aws-iot-device-sdk-v2';

interface Options {
  host: string;
  port: number;
  caFile: string;
  certificateFile: string;
  privateKeyFile: string;
  thingName: string;
  /** When set, the no-op handler appends `jobId wallMs` here as it starts (latency runs only). */
  startLog?: string;
}

function say(msg: string, extra: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ msg, ...extra })}\n`);
}

async function connect(o: Options): Promise<mqtt5.Mqtt5Client> {
  const b = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromPath(o.host, o.certificateFile, o.privateKeyFile);
  b.withPort(o.port);
  b.withCertificateAuthorityFromPath(undefined, o.caFile);
  b.withConnectProperties({ clientId: o.thingName, keepAliveIntervalSeconds: 30 });
  const client = new mqtt5.Mqtt5Client(b.build());
  const ok = once(client, mqtt5.Mqtt5Client.CONNECTION_SUCCESS);
  client.start();
  await ok;
  return client;
}

/** The job's work: nothing, as in the samples' "execute the job here". */
function runNoop(o: Options, jobId: string): void {
  if (o.startLog) appendFileSync(o.startLog, `${jobId} ${performance.timeOrigin + performance.now()}\n`);
}

async function main(o: Options): Promise<void> {
  const mqtt = await connect(o);
  const jobs = iotjobs.IotJobsClientv2.newFromMqtt5(mqtt, {
    maxRequestResponseSubscriptions: 10,
    maxStreamingSubscriptions: 2,
    operationTimeoutInSeconds: 10,
  });
  // A notify-next while a job runs means "look again": a flag, so none is lost between polls.
  let poke: (() => void) | undefined;
  let poked = false;
  const next = jobs.createNextJobExecutionChangedStream({ thingName: o.thingName });
  next.on('incomingPublish', () => {
    poked = true;
    poke?.();
  });
  const subscribed = once(next, 'subscriptionStatus');
  next.open();
  await subscribed;
  say('connected');
  for (;;) {
    poked = false;
    const started = await jobs.startNextPendingJobExecution({ thingName: o.thingName });
    const jobId = started.execution?.jobId;
    if (!jobId) {
      if (!poked) await new Promise<void>((resolve) => (poke = resolve));
      poke = undefined;
      continue;
    }
    say('job started', { jobId });
    runNoop(o, jobId);
    await jobs.updateJobExecution({ thingName: o.thingName, jobId, status: iotjobs.model.JobStatus.SUCCEEDED });
    say('outcome reported', { jobId });
  }
}

main(JSON.parse(process.argv[2] ?? '{}') as Options).catch((err: unknown) => {
  say('error', { error: String(err instanceof Error ? err.stack : JSON.stringify(err)) });
  process.exitCode = 1;
});
