/**
 * A provisioning fleet for the agent's end-to-end tests: the sim (on mosquitto or on its embedded
 * broker), a claim certificate made through the control plane, the fleet's templates and group,
 * and agent configs that carry only the claim and a provisioning section.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateKeysAndCertificateCommand,
  CreateProvisioningTemplateCommand,
  CreateThingGroupCommand,
  IoTClient,
  ListCertificatesCommand,
} from '@aws-sdk/client-iot';
import { startJobsService } from '../../src/sim/start';
import type { JobsServiceHandle } from '../../src/sim/start';
import { TEST_HANDLERS } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';

export type BrokerKind = 'mosquitto' | 'embedded';

export interface Fleet {
  kind: BrokerKind;
  dir: string;
  sim: JobsServiceHandle;
  iot: IoTClient;
  host: string;
  port: number;
  caFile: string;
  claim: { certificateFile: string; privateKeyFile: string };
  close(): Promise<void>;
}

const ROLE = 'arn:aws:iam::123456789012:role/Provisioning';

/** Fleet: thing named by the SerialNumber parameter, certificate ACTIVE, joins group "fleet". */
export const FLEET_TEMPLATE = {
  Parameters: { SerialNumber: { Type: 'String' } },
  Resources: {
    thing: {
      Type: 'AWS::IoT::Thing',
      Properties: { ThingName: { Ref: 'SerialNumber' }, ThingGroups: ['fleet'], AttributePayload: { serial: { Ref: 'SerialNumber' } } },
    },
    certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' } },
  },
  DeviceConfiguration: { FallbackUrl: 'https://example.com/fallback' },
};

/** Rotation: the same thing ({"Ref": "ThingName"}), the new certificate in `status`. */
export function rotationTemplate(status: 'ACTIVE' | 'INACTIVE'): object {
  return {
    Parameters: { ThingName: { Type: 'String' }, SerialNumber: { Type: 'String' } },
    Resources: {
      thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'ThingName' } }, OverrideSettings: { AttributePayload: 'MERGE', ThingGroups: 'DO_NOTHING' } },
      certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: status } },
    },
  };
}

export async function createTemplate(iot: IoTClient, templateName: string, body: object): Promise<void> {
  await iot.send(new CreateProvisioningTemplateCommand({ templateName, templateBody: JSON.stringify(body), provisioningRoleArn: ROLE, enabled: true }));
}

export async function certificateCount(iot: IoTClient): Promise<number> {
  const r = await iot.send(new ListCertificatesCommand({ pageSize: 250 }));
  return r.certificates?.length ?? 0;
}

export async function startFleet(kind: BrokerKind): Promise<Fleet> {
  let stack: Stack | undefined;
  let sim: JobsServiceHandle;
  let dir: string;
  let iot: IoTClient;
  let port: number;
  if (kind === 'mosquitto') {
    // mosquitto reads the sim's CRL: certificate states hold at its door as on the embedded broker.
    stack = await startStack({ things: [], crl: true });
    ({ sim, iot, dir } = stack);
    port = stack.broker.port;
  } else {
    dir = await mkdtemp(join(tmpdir(), 'ija-fleet-'));
    sim = await startJobsService({ stateDir: join(dir, 'sim'), things: [], mqttPort: 0, httpsPort: 0, controlPort: 0 });
    iot = new IoTClient({ endpoint: sim.endpoints.controlPlane, region: 'us-east-1', credentials: { accessKeyId: 'AKIDSIM', secretAccessKey: 'sim' } });
    port = Number(new URL(sim.endpoints.mqtt).port);
  }
  const made = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const claimDir = join(dir, 'claim');
  await mkdir(claimDir, { recursive: true, mode: 0o700 });
  const claim = { certificateFile: join(claimDir, 'claim.pem'), privateKeyFile: join(claimDir, 'claim.key') };
  await writeFile(claim.certificateFile, made.certificatePem ?? '');
  await writeFile(claim.privateKeyFile, made.keyPair?.PrivateKey ?? '', { mode: 0o600 });
  await iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet' }));
  await createTemplate(iot, 'Fleet', FLEET_TEMPLATE);
  await createTemplate(iot, 'Rotate', rotationTemplate('ACTIVE'));
  await createTemplate(iot, 'RotateInactive', rotationTemplate('INACTIVE'));
  return {
    kind,
    dir,
    sim,
    iot,
    host: '127.0.0.1',
    port,
    caFile: sim.endpoints.caFile,
    claim,
    close: async () => {
      if (stack) return stack.close();
      iot.destroy();
      await sim.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface DeviceSetup {
  configFile: string;
  stateDir: string;
  handlerLog: string;
}

/** A device image: the claim, a provisioning section, the test handlers; no thing name, no certificate. */
export async function deviceConfig(f: Fleet, name: string, o: { templateName?: string; serial?: string; method?: 'csr' | 'create-keys'; extra?: Record<string, unknown> } = {}): Promise<DeviceSetup> {
  const base = join(f.dir, `device-${name}`);
  const handlersDir = join(base, 'handlers');
  await mkdir(handlersDir, { recursive: true, mode: 0o755 });
  await chmod(base, 0o755);
  await chmod(handlersDir, 0o755);
  for (const [file, text] of Object.entries(TEST_HANDLERS)) await writeFile(join(handlersDir, file), text, { mode: 0o644 });
  const handlerLog = join(base, 'handler.log');
  const stateDir = join(base, 'state');
  const config = {
    mqtt: { endpoint: f.host, port: f.port, keepAliveSeconds: 30 },
    tls: { rootCaFile: f.caFile },
    provisioning: {
      templateName: o.templateName ?? 'Fleet',
      ...(o.method ? { method: o.method } : {}),
      claim: f.claim,
      parameters: { SerialNumber: o.serial ?? name },
      stepTimeoutSeconds: 10,
    },
    jobs: { requestTimeoutSeconds: 5, progressIntervalSeconds: 1, drainGraceSeconds: 2 },
    handlers: { directories: [handlersDir], options: { record: { logFile: handlerLog } } },
    stateDirectory: stateDir,
    log: { level: 'debug' },
    ...o.extra,
  };
  const configFile = join(base, 'agent.json');
  await writeFile(configFile, JSON.stringify(config, null, 2));
  return { configFile, stateDir, handlerLog };
}
