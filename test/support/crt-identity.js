'use strict';
/**
 * Runs AWS's own fleet provisioning client, `IotIdentityClientv2` from aws-iot-device-sdk-v2
 * (aws-crt), unchanged, in its own process (aws-crt keeps native resources past close; see
 * crt-jobs-lifecycle.js). Input: one JSON argument {host, port, caFile, certificateFile,
 * privateKeyFile, clientId, templateName, serial, csrPem}. Output: one JSON line
 * `{"ok":true,"steps":{…}}` or `{"ok":false,"error":"…"}` on stdout.
 */
const { iot, mqtt } = require('aws-crt');
const { iotidentity } = require('aws-iot-device-sdk-v2');

const o = JSON.parse(process.argv[2]);
const steps = {};

async function rejected(p) {
  try {
    await p;
  } catch (err) {
    return err.modeledError ?? { description: String(err.message ?? err) };
  }
  return 'accepted';
}

async function main() {
  const b = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(o.certificateFile, o.privateKeyFile);
  b.with_endpoint(o.host);
  b.with_port(o.port);
  b.with_certificate_authority_from_path(undefined, o.caFile);
  b.with_client_id(o.clientId);
  const conn = new mqtt.MqttClient().new_connection(b.build());
  await conn.connect();
  const client = iotidentity.IotIdentityClientv2.newFromMqtt311(conn, { maxRequestResponseSubscriptions: 4, maxStreamingSubscriptions: 0, operationTimeoutInSeconds: 15 });
  try {
    steps.keys = await client.createKeysAndCertificate({});
    steps.csr = await client.createCertificateFromCsr({ certificateSigningRequest: o.csrPem });
    steps.registered = await client.registerThing({ templateName: o.templateName, certificateOwnershipToken: steps.csr.certificateOwnershipToken, parameters: { SerialNumber: o.serial } });
    steps.badToken = await rejected(client.registerThing({ templateName: o.templateName, certificateOwnershipToken: 'not-a-token', parameters: { SerialNumber: o.serial } }));
    steps.noTemplate = await rejected(client.registerThing({ templateName: 'NoSuchTemplate', certificateOwnershipToken: steps.keys.certificateOwnershipToken }));
  } finally {
    client.close();
    await conn.disconnect();
  }
}

main().then(
  () => {
    process.stdout.write(`${JSON.stringify({ ok: true, steps })}\n`);
    process.exit(0);
  },
  (err) => {
    process.stdout.write(`${JSON.stringify({ ok: false, error: String(err?.stack ?? err), modeled: err?.modeledError, steps })}\n`);
    process.exit(0);
  },
);
