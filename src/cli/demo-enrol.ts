/**
 * The demo's second device: it carries only the fleet's claim certificate, enrols itself by fleet
 * provisioning (docs/ARCHITECTURE.md §3 "Identity"), joins the template's thing group, and at once
 * runs the CONTINUOUS job that targets that group.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createAgent } from '../agent/create';
import { loadConfig } from '../config/load';
import type { JobHandler } from '../handlers/api';
import { ensureIdentity } from '../identity/provision';
import { sleep } from '../lib/backoff';
import { createLogger } from '../lib/log';
import type { JobsServiceHandle } from '../sim/start';
import type { DemoSigner } from './demo-signing';

const GROUP = 'demo-fleet';
const TEMPLATE = 'DemoFleet';
export const ENROLLED_THING = 'demo-sensor-0001';
const JOB = 'fleet-welcome';

const TEMPLATE_BODY = {
  Parameters: { SerialNumber: { Type: 'String' } },
  Resources: {
    thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'SerialNumber' }, ThingGroups: [GROUP] } },
    certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' } },
  },
};

type Control = (method: string, path: string, body?: object) => Promise<unknown>;

/** Runs the enrolment; resolves with the job's final status. */
export async function demoEnrolment(o: { sim: JobsServiceHandle; signer: DemoSigner; dir: string; control: Control; handler: JobHandler; say: (s: string) => void }): Promise<string> {
  const ep = o.sim.endpoints;
  const claim = (await o.control('POST', '/keys-and-certificate?setAsActive=true')) as { certificatePem: string; keyPair: { PrivateKey: string } };
  const claimDir = join(o.dir, 'claim');
  await mkdir(claimDir, { recursive: true, mode: 0o700 });
  await writeFile(join(claimDir, 'claim.pem'), claim.certificatePem);
  await writeFile(join(claimDir, 'claim.key'), claim.keyPair.PrivateKey, { mode: 0o600 });
  await o.control('POST', `/thing-groups/${GROUP}`, {});
  await o.control('POST', '/provisioning-templates', { templateName: TEMPLATE, templateBody: JSON.stringify(TEMPLATE_BODY), provisioningRoleArn: 'arn:aws:iam::123456789012:role/demo', enabled: true });
  await o.control('PUT', `/jobs/${JOB}`, {
    targets: [`arn:aws:iot:us-east-1:123456789012:thinggroup/${GROUP}`],
    targetSelection: 'CONTINUOUS',
    document: JSON.stringify(o.signer.sign(JOB, '', ENROLLED_THING, { operation: 'sample-update', ms: 400 })),
  });
  o.say(`created CONTINUOUS job ${JOB} on thing group ${GROUP} (no device in it yet), template ${TEMPLATE}, a claim certificate`);
  const url = new URL(ep.mqtt);
  const overrides = {
    mqtt: { endpoint: url.hostname, port: Number(url.port) },
    tls: { rootCaFile: ep.caFile },
    provisioning: { templateName: TEMPLATE, claim: { certificateFile: join(claimDir, 'claim.pem'), privateKeyFile: join(claimDir, 'claim.key') }, parameters: { SerialNumber: ENROLLED_THING } },
    handlers: { directories: [] },
    stateDirectory: join(o.dir, 'agent'),
    trust: { storeFile: o.signer.storeFile },
    log: { level: 'warn' },
  };
  const log = createLogger({ level: 'silent' });
  const identity = await ensureIdentity({ config: loadConfig({ overrides }), log, env: {}, onState: (t) => o.say(`device with the claim: ${t}`) });
  o.say(`enrolled as thing ${identity.thingName}, certificate ${identity.certificateId.slice(0, 12)}…; connecting as the thing`);
  const agent = await createAgent(loadConfig({ overrides }), { log, handlers: [o.handler] });
  agent.on('reported', (r: { ref: { jobId: string }; status: string }) => o.say(`${identity.thingName}: ${r.ref.jobId} → reported ${r.status}`));
  await agent.start();
  const service = o.sim.runtime.service;
  const statusOf = (): string => {
    const r = service.describeJobExecutionControl(JOB, ENROLLED_THING);
    return r.ok ? String(r.value.execution.status) : 'UNKNOWN';
  };
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !['SUCCEEDED', 'FAILED', 'REJECTED'].includes(statusOf())) await sleep(100);
  await agent.whenIdle();
  await agent.stop();
  return statusOf();
}
