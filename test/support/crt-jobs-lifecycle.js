'use strict';
/**
 * Runs AWS's IotJobsClientv2 (aws-iot-device-sdk-v2 / aws-crt) through the job lifecycle of the
 * SDK's own service test, in its own process: aws-crt keeps native resources alive past close and
 * has aborted during process teardown, so the test process never loads it. Input: one JSON argument
 * {version: 5|311, host, port, caFile, certificateFile, privateKeyFile, thingName, controlPlane}.
 * Output: one JSON line `{"ok":true,"steps":{…}}` or `{"ok":false,"error":"…"}` on stdout.
 */
const { once } = require('node:events');
const { IoTClient, CreateJobCommand } = require('@aws-sdk/client-iot');
const { iot, mqtt, mqtt5 } = require('aws-crt');
const { iotjobs } = require('aws-iot-device-sdk-v2');

const o = JSON.parse(process.argv[2]);
const rr = { maxRequestResponseSubscriptions: 6, maxStreamingSubscriptions: 2, operationTimeoutInSeconds: 10 };
const steps = {};

async function connect() {
  if (o.version === 5) {
    const b = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromPath(o.host, o.certificateFile, o.privateKeyFile);
    b.withPort(o.port);
    b.withCertificateAuthorityFromPath(undefined, o.caFile);
    b.withConnectProperties({ clientId: o.thingName, keepAliveIntervalSeconds: 60 });
    const c = new mqtt5.Mqtt5Client(b.build());
    const ok = once(c, mqtt5.Mqtt5Client.CONNECTION_SUCCESS);
    c.start();
    await ok;
    return { client: iotjobs.IotJobsClientv2.newFromMqtt5(c, rr), stop: async () => { const s = once(c, mqtt5.Mqtt5Client.STOPPED); c.stop(); await s; c.close(); } };
  }
  const b = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(o.certificateFile, o.privateKeyFile);
  b.with_endpoint(o.host);
  b.with_port(o.port);
  b.with_certificate_authority_from_path(undefined, o.caFile);
  b.with_client_id(o.thingName);
  const conn = new mqtt.MqttClient().new_connection(b.build());
  await conn.connect();
  return { client: iotjobs.IotJobsClientv2.newFromMqtt311(conn, rr), stop: () => conn.disconnect() };
}

async function main() {
  const thingName = o.thingName;
  const control = new IoTClient({ endpoint: o.controlPlane, region: 'us-east-1', credentials: { accessKeyId: 'AKIDSIM', secretAccessKey: 'sim' } });
  const { client, stop } = await connect();
  const changed = client.createJobExecutionsChangedStream({ thingName });
  const next = client.createNextJobExecutionChangedStream({ thingName });
  const subscribed = Promise.all([once(changed, 'subscriptionStatus'), once(next, 'subscriptionStatus')]);
  changed.open();
  next.open();
  await subscribed;
  const c1 = once(changed, 'incomingPublish');
  const n1 = once(next, 'incomingPublish');
  steps.idle = await client.getPendingJobExecutions({ thingName });
  const jobId = `sdk-${thingName}`;
  await control.send(new CreateJobCommand({ jobId, targets: [`arn:aws:iot:us-east-1:123456789012:thing/${thingName}`], document: JSON.stringify({ test: 'do-something' }) }));
  steps.queuedNotify = (await c1)[0].message;
  steps.queuedNext = (await n1)[0].message;
  const c2 = once(changed, 'incomingPublish');
  const n2 = once(next, 'incomingPublish');
  steps.started = await client.startNextPendingJobExecution({ thingName });
  steps.described = await client.describeJobExecution({ thingName, jobId });
  steps.updated = await client.updateJobExecution({ thingName, jobId, status: iotjobs.model.JobStatus.SUCCEEDED, expectedVersion: steps.started.execution.versionNumber });
  steps.finalNotify = (await c2)[0].message;
  steps.finalNext = (await n2)[0].message;
  steps.after = await client.getPendingJobExecutions({ thingName });
  try {
    await client.describeJobExecution({ thingName, jobId: 'no-such-job' });
    steps.missing = 'no error';
  } catch (err) {
    steps.missing = String((err && err.modeledError && err.modeledError.code) || (err && err.message));
  }
  changed.close();
  next.close();
  client.close();
  await stop();
  control.destroy();
  return jobId;
}

const timer = setTimeout(() => {
  process.stdout.write(`${JSON.stringify({ ok: false, error: 'timed out', steps })}\n`, () => process.exit(3));
}, 30000);
main().then(
  (jobId) => {
    clearTimeout(timer);
    process.stdout.write(`${JSON.stringify({ ok: true, jobId, steps })}\n`, () => process.exit(0));
  },
  (err) => {
    clearTimeout(timer);
    process.stdout.write(`${JSON.stringify({ ok: false, error: String((err && err.stack) || err), steps })}\n`, () => process.exit(1));
  },
);
