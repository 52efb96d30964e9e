/**
 * A fleet image's first boot under systemd (PID 1) on a clean Debian 12: the .deb installed into
 * the image before it ever booted, the fleet's claim certificate and a config with `provisioning`
 * dropped in (docs/INSTALL.md §10 "The image"), then power on. The unit enrols the device by claim
 * against the sim on its embedded broker (which refuses certificates that are not registered and
 * ACTIVE, and answers the provisioning API only to the connection that asked), joins the template's
 * thing group, and runs the CONTINUOUS group job created before the device existed. A restart of the
 * unit uses the identity on disk and has no certificate made.
 */
import { readFileSync, statSync } from 'node:fs';
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateJobCommand, DescribeCertificateCommand, ListThingPrincipalsCommand, ListThingsInThingGroupCommand } from '@aws-sdk/client-iot';
import { certMatchesKey } from '../../src/lib/certs';
import { certificateCount, startFleet } from '../e2e/provisioning-support';
import type { Fleet } from '../e2e/provisioning-support';
import { CONFIG, Device, STATE_DIR, debName, installIntoImage, releaseFile } from './support/device';

/** The thing's name comes from the device's serial number (the Fleet template's SerialNumber parameter). */
const SERIAL = 'gw-image-0042';
const JOB = 'fleet-first-boot';
const ETC = '/etc/iot-jobs-agent';
const SERIAL_FILE = '/etc/device-serial';
const IDENTITY = `${STATE_DIR}/identity`;

let fleet: Fleet;
let dev: Device;
let certsBeforeBoot = 0;

jest.setTimeout(240_000);

/** What the image carries, as docs/INSTALL.md §10 lays it out: the claim, its key (root only), the CA, agent.json. */
async function buildImage(root: string): Promise<void> {
  await installIntoImage(root, releaseFile(debName('amd64')));
  const etc = join(root, ETC);
  await mkdir(etc, { recursive: true });
  await chmod(etc, 0o750);
  await copyFile(fleet.claim.certificateFile, join(etc, 'claim.pem'));
  await copyFile(fleet.claim.privateKeyFile, join(etc, 'claim.key'));
  await chmod(join(etc, 'claim.key'), 0o600);
  await copyFile(fleet.caFile, join(etc, 'root-ca.pem'));
  // Written at the factory, one per device: the one thing that differs between images.
  await writeFile(join(root, SERIAL_FILE), `${SERIAL}\n`);
  const config = {
    mqtt: { endpoint: fleet.host, port: fleet.port, keepAliveSeconds: 30 },
    tls: { rootCaFile: `${ETC}/root-ca.pem` },
    provisioning: {
      templateName: 'Fleet',
      claim: { certificateFile: `${ETC}/claim.pem`, privateKeyFile: `${ETC}/claim.key` },
      parameters: { SerialNumber: { file: SERIAL_FILE } },
      stepTimeoutSeconds: 10,
    },
    jobs: { requestTimeoutSeconds: 5, progressIntervalSeconds: 1, drainGraceSeconds: 10 },
    handlers: { directories: [] },
    stateDirectory: STATE_DIR,
    log: { level: 'debug' },
  };
  await writeFile(join(root, CONFIG), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o640 });
  await chmod(join(root, CONFIG), 0o640);
}

beforeAll(async () => {
  fleet = await startFleet('embedded');
  // The job exists before the device does: it reaches the device because the template puts the thing in "fleet".
  await fleet.iot.send(
    new CreateJobCommand({
      jobId: JOB,
      targets: ['arn:aws:iot:us-east-1:123456789012:thinggroup/fleet'],
      targetSelection: 'CONTINUOUS',
      document: JSON.stringify({ operation: 'exec', command: ['sh', '-c', 'echo enrolled as $(cat /etc/device-serial)'] }),
    }),
  );
  certsBeforeBoot = await certificateCount(fleet.iot);
  dev = await Device.boot({ sim: fleet.sim }, SERIAL, { prepare: buildImage });
});
afterAll(async () => {
  await dev?.stop();
  await fleet?.close();
});

describe('a fleet image with a claim certificate, first boot under systemd', () => {
  it('the unit enrols the device by claim, connects as the new thing and runs the group job', async () => {
    const idle = await dev.waitIdle();
    expect(idle).toMatchObject({ ActiveState: 'active', SubState: 'running', NRestarts: '0' });
    const lines = await dev.logLines(idle.InvocationID);
    expect(lines.some((l) => l.msg === 'provisioning: identity installed')).toBe(true);
    expect(lines.some((l) => l.msg === 'connected to the broker')).toBe(true);

    // The identity under the state directory, written through the unit's sandbox (ProtectSystem=strict, UMask=0077).
    const identity = JSON.parse(readFileSync(dev.c.path(`${IDENTITY}/identity.json`), 'utf8')) as Record<string, string>;
    expect(identity).toMatchObject({ thingName: SERIAL, templateName: 'Fleet', key: 'file' });
    expect(statSync(dev.c.path(IDENTITY)).mode & 0o777).toBe(0o700);
    expect(statSync(dev.c.path(`${IDENTITY}/private.key`)).mode & 0o777).toBe(0o600);
    expect(certMatchesKey(readFileSync(dev.c.path(`${IDENTITY}/certificate.pem`), 'utf8'), readFileSync(dev.c.path(`${IDENTITY}/private.key`), 'utf8'))).toBe(true);

    // The service side: one new certificate, ACTIVE, attached to the new thing, which is in the template's group.
    expect(await certificateCount(fleet.iot)).toBe(certsBeforeBoot + 1);
    const cert = await fleet.iot.send(new DescribeCertificateCommand({ certificateId: identity.certificateId }));
    expect(cert.certificateDescription?.status).toBe('ACTIVE');
    const principals = await fleet.iot.send(new ListThingPrincipalsCommand({ thingName: SERIAL }));
    expect(principals.principals).toEqual([cert.certificateDescription?.certificateArn]);
    const members = await fleet.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'fleet' }));
    expect(members.things).toContain(SERIAL);

    const done = await dev.waitForJob(JOB, 'SUCCEEDED');
    expect(done.details.stdout).toMatch(new RegExp(`enrolled as ${SERIAL}`));
    expect(dev.statusChanges(JOB)).toEqual(['IN_PROGRESS', 'SUCCEEDED']);

    // `status` on the device says where provisioning stands.
    const status = await dev.exec(['iot-jobs-agent', 'status', '--config', CONFIG]);
    expect(status.stdout).toContain(`provisioning: provisioned as ${SERIAL} with certificate ${identity.certificateId}`);
  });

  it('a restart of the unit connects with the identity on disk and has no certificate made', async () => {
    const before = await dev.props();
    const identityBefore = readFileSync(dev.c.path(`${IDENTITY}/identity.json`), 'utf8');
    const certs = await certificateCount(fleet.iot);
    await dev.exec(['systemctl', 'restart', 'iot-jobs-agent.service'], { timeoutMs: 180_000 });
    const after = await dev.waitForUnit((p) => p.InvocationID !== before.InvocationID && p.ActiveState === 'active' && p.StatusText === 'idle', 'restarted and idle');
    expect(after.MainPID).not.toBe(before.MainPID);
    const lines = await dev.logLines(after.InvocationID);
    expect(lines.some((l) => l.msg === 'connected to the broker')).toBe(true);
    expect(lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('provisioning'))).toEqual([]);
    expect(await certificateCount(fleet.iot)).toBe(certs);
    expect(readFileSync(dev.c.path(`${IDENTITY}/identity.json`), 'utf8')).toBe(identityBefore);
  });
});
