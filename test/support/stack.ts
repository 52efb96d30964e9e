/**
 * The real parts most integration/e2e tests stand on: a test PKI, mosquitto over mTLS, and the local
 * Jobs service joined to it as the privileged `jobs-service` client, issuing from the same CA.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoTClient } from '@aws-sdk/client-iot';
import { createCrl } from '../../src/lib/pki';
import { startJobsService } from '../../src/sim/start';
import type { JobsServiceHandle, StartJobsServiceOptions } from '../../src/sim/start';
import { startMosquitto } from './mosquitto';
import type { Mosquitto } from './mosquitto';
import { makeTestPki } from './pki';
import type { TestPki } from './pki';

export interface Stack {
  dir: string;
  pki: TestPki;
  broker: Mosquitto;
  sim: JobsServiceHandle;
  /** The AWS SDK control-plane client pointed at the sim. */
  iot: IoTClient;
  close(): Promise<void>;
}

/**
 * `crl`: mosquitto refuses what the sim's registry refuses — it reads the sim's CRL, and the sim
 * sends it SIGHUP on every change (and, with `takeover`, drops live connections of such certificates).
 */
export async function startStack(
  o: { things?: string[]; sim?: Partial<StartJobsServiceOptions>; acl?: string; crl?: boolean; takeover?: boolean } = {},
): Promise<Stack> {
  const things = o.things ?? ['thing1', 'thing2'];
  const dir = await mkdtemp(join(tmpdir(), 'ija-stack-'));
  const pki = await makeTestPki(dir, things);
  await writeFile(join(dir, 'ca.key'), pki.caKeyPem, { mode: 0o600 });
  const crlFile = join(dir, 'crl.pem');
  // The broker starts first here, so it starts on an empty list from the same CA; the sim rewrites it.
  if (o.crl === true) await writeFile(crlFile, await createCrl({ certPem: await readFile(pki.caFile, 'utf8'), keyPem: pki.caKeyPem }, []));
  const broker = await startMosquitto({ dir, pki, ...(o.acl !== undefined ? { acl: o.acl } : {}), ...(o.crl === true ? { crlFile } : {}) });
  const crl = o.crl === true ? { crlFile, brokerReload: { pid: broker.pid }, brokerTakeover: o.takeover === true } : {};
  const sim = await startJobsService({
    stateDir: join(dir, 'sim'),
    things,
    broker: broker.url,
    brokerCert: pki.service.certificateFile,
    brokerKey: pki.service.privateKeyFile,
    brokerCa: pki.caFile,
    caCert: pki.caFile,
    caKey: join(dir, 'ca.key'),
    ...crl,
    ...o.sim,
  }).catch(async (err: unknown) => {
    await broker.stop();
    throw err;
  });
  // The test PKI's thing certificates are registered and ACTIVE, as a fleet's devices would be.
  for (const [thing, f] of Object.entries(pki.things)) sim.identity.registerThingCertificate(await readFile(f.certificateFile, 'utf8'), thing);
  const iot = new IoTClient({
    endpoint: sim.endpoints.controlPlane,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDSIM', secretAccessKey: 'sim' },
  });
  return {
    dir,
    pki,
    broker,
    sim,
    iot,
    close: async () => {
      iot.destroy();
      await sim.close();
      await broker.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The sim alone, with its embedded broker (aedes, MQTT 3.1.1), shaped like the mosquitto stack
 * the agent helpers expect: `broker.port` is the embedded broker's, the PKI is the sim's.
 */
export async function startEmbeddedStack(things: string[], sim: Partial<StartJobsServiceOptions> = {}): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'ija-embedded-'));
  const handle = await startJobsService({ stateDir: join(dir, 'sim'), things, ...sim });
  const port = Number(new URL(handle.endpoints.mqtt).port);
  const stack = {
    dir,
    sim: handle,
    pki: { things: handle.endpoints.things, caFile: handle.endpoints.caFile },
    broker: { port },
    close: async () => {
      await handle.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return stack as unknown as Stack;
}
