/**
 * A fleet image's first boot under systemd (PID 1) on a clean Debian 12: the .deb installed into
 * the image before it ever booted, the fleet's claim certificate and a config with `provisioning`
 * dropped in (docs/INSTALL.md §10 "The image"), then power on. The unit enrols the device by claim
 * against the sim on its embedded broker (which refuses certificates that are not registered and
 * ACTIVE, and answers the provisioning API only to the connection that asked), joins the template's
 * thing group, and runs the CONTINUOUS group job created before the device existed. A restart of the
 * unit uses the identity on disk and has no certificate made. The same with the device key made
 * inside a SoftHSM token, which the unit's sandbox must leave writable, and a certificate rotation by
 * job that makes the next key in the token and destroys the old one.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateJobCommand, DescribeCertificateCommand, ListThingPrincipalsCommand, ListThingsInThingGroupCommand } from '@aws-sdk/client-iot';
import { certMatchesKey } from '../../src/lib/certs';
import { certificateCount, startFleet } from '../e2e/provisioning-support';
import type { Fleet } from '../e2e/provisioning-support';
import { CONFIG, Device, STATE_DIR, UNIT, debName, installIntoImage, releaseFile } from './support/device';
import { TOOL_PACKAGES } from './support/rootfs';

const JOB = 'fleet-first-boot';
const ETC = '/etc/iot-jobs-agent';
const SERIAL_FILE = '/etc/device-serial';
const IDENTITY = `${STATE_DIR}/identity`;
const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';
const TOKEN = { label: 'device', pin: '4711', soPin: '0815', keyLabel: 'device-key' };
/** The unit as it was before it kept the token stores writable: a drop-in that empties ReadWritePaths. */
const NO_TOKEN_STORE = 'no-token-store';

let fleet: Fleet;

jest.setTimeout(240_000);

/**
 * What the image carries, as docs/INSTALL.md §10 lays it out: the claim, its key (root only), the CA,
 * agent.json, and the device's serial number (written at the factory, the one thing that differs
 * between devices). With `token`, a SoftHSM token initialised in the image and the key to be made there.
 */
async function buildImage(root: string, serial: string, token: boolean): Promise<void> {
  await installIntoImage(root, releaseFile(debName('amd64')));
  const etc = join(root, ETC);
  await mkdir(etc, { recursive: true });
  await chmod(etc, 0o750);
  await copyFile(fleet.claim.certificateFile, join(etc, 'claim.pem'));
  await copyFile(fleet.claim.privateKeyFile, join(etc, 'claim.key'));
  await chmod(join(etc, 'claim.key'), 0o600);
  await copyFile(fleet.caFile, join(etc, 'root-ca.pem'));
  await writeFile(join(root, SERIAL_FILE), `${serial}\n`);
  const config: Record<string, unknown> = {
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
  if (token) {
    const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
    execFileSync('chroot', [root, 'softhsm2-util', '--init-token', '--free', '--label', TOKEN.label, '--pin', TOKEN.pin, '--so-pin', TOKEN.soPin], { env });
    await writeFile(join(etc, 'pin'), `${TOKEN.pin}\n`, { mode: 0o600 });
    config.mqtt = { ...(config.mqtt as object), transport: 'aws-crt' };
    config.pkcs11 = { library: SOFTHSM, tokenLabel: TOKEN.label, keyLabel: TOKEN.keyLabel, pinFile: `${ETC}/pin` };
    const dropIns = join(root, `/etc/systemd/system/${UNIT}.d`);
    await mkdir(dropIns, { recursive: true });
    await writeFile(join(dropIns, `${NO_TOKEN_STORE}.conf`), '[Service]\nReadWritePaths=\n');
  }
  await writeFile(join(root, CONFIG), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o640 });
  await chmod(join(root, CONFIG), 0o640);
}

function identityOf(dev: Device): Record<string, string> {
  return JSON.parse(readFileSync(dev.c.path(`${IDENTITY}/identity.json`), 'utf8')) as Record<string, string>;
}

/** The service side: the thing is in the template's group and has exactly this certificate, ACTIVE. */
async function expectEnrolled(thing: string, certificateId: string): Promise<void> {
  const cert = await fleet.iot.send(new DescribeCertificateCommand({ certificateId }));
  expect(cert.certificateDescription?.status).toBe('ACTIVE');
  const principals = await fleet.iot.send(new ListThingPrincipalsCommand({ thingName: thing }));
  expect(principals.principals).toEqual([cert.certificateDescription?.certificateArn]);
  const members = await fleet.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'fleet' }));
  expect(members.things).toContain(thing);
}

async function expectGroupJobDone(dev: Device): Promise<void> {
  const done = await dev.waitForJob(JOB, 'SUCCEEDED');
  expect(done.details.stdout).toBe(`enrolled as ${dev.thing}`);
  expect(dev.statusChanges(JOB)).toEqual(['IN_PROGRESS', 'SUCCEEDED']);
}

beforeAll(async () => {
  fleet = await startFleet('embedded');
  // The job exists before any device does: it reaches each one because the template puts its thing in "fleet".
  await fleet.iot.send(
    new CreateJobCommand({
      jobId: JOB,
      targets: ['arn:aws:iot:us-east-1:123456789012:thinggroup/fleet'],
      targetSelection: 'CONTINUOUS',
      document: JSON.stringify({ operation: 'exec', command: ['sh', '-c', `echo enrolled as $(cat ${SERIAL_FILE})`] }),
    }),
  );
});
afterAll(async () => {
  await fleet?.close();
});

describe('a fleet image with a claim certificate, first boot under systemd', () => {
  const SERIAL = 'gw-image-0042';
  let dev: Device;
  let certsBeforeBoot = 0;

  beforeAll(async () => {
    certsBeforeBoot = await certificateCount(fleet.iot);
    dev = await Device.boot({ sim: fleet.sim }, SERIAL, { prepare: (root) => buildImage(root, SERIAL, false) });
  });
  afterAll(async () => {
    await dev?.stop();
  });

  it('the unit enrols the device by claim, connects as the new thing and runs the group job', async () => {
    const idle = await dev.waitIdle();
    expect(idle).toMatchObject({ ActiveState: 'active', SubState: 'running', NRestarts: '0' });
    const lines = await dev.logLines(idle.InvocationID);
    expect(lines.some((l) => l.msg === 'provisioning: identity installed')).toBe(true);
    expect(lines.some((l) => l.msg === 'connected to the broker')).toBe(true);

    // The identity under the state directory, written through the unit's sandbox (ProtectSystem=strict, UMask=0077).
    const identity = identityOf(dev);
    expect(identity).toMatchObject({ thingName: SERIAL, templateName: 'Fleet', key: 'file' });
    expect(statSync(dev.c.path(IDENTITY)).mode & 0o777).toBe(0o700);
    expect(statSync(dev.c.path(`${IDENTITY}/private.key`)).mode & 0o777).toBe(0o600);
    expect(certMatchesKey(readFileSync(dev.c.path(`${IDENTITY}/certificate.pem`), 'utf8'), readFileSync(dev.c.path(`${IDENTITY}/private.key`), 'utf8'))).toBe(true);

    expect(await certificateCount(fleet.iot)).toBe(certsBeforeBoot + 1);
    await expectEnrolled(SERIAL, identity.certificateId!);
    await expectGroupJobDone(dev);

    // `status` on the device says where provisioning stands.
    const status = await dev.exec(['iot-jobs-agent', 'status', '--config', CONFIG]);
    expect(status.stdout).toContain(`provisioning: provisioned as ${SERIAL} with certificate ${identity.certificateId}`);
  });

  it('a restart of the unit connects with the identity on disk and has no certificate made', async () => {
    const before = await dev.props();
    const identityBefore = readFileSync(dev.c.path(`${IDENTITY}/identity.json`), 'utf8');
    const certs = await certificateCount(fleet.iot);
    await dev.exec(['systemctl', 'restart', UNIT], { timeoutMs: 180_000 });
    const after = await dev.waitForUnit((p) => p.InvocationID !== before.InvocationID && p.ActiveState === 'active' && p.StatusText === 'idle', 'restarted and idle');
    expect(after.MainPID).not.toBe(before.MainPID);
    const lines = await dev.logLines(after.InvocationID);
    expect(lines.some((l) => l.msg === 'connected to the broker')).toBe(true);
    expect(lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('provisioning'))).toEqual([]);
    expect(await certificateCount(fleet.iot)).toBe(certs);
    expect(readFileSync(dev.c.path(`${IDENTITY}/identity.json`), 'utf8')).toBe(identityBefore);
  });
});

describe('a fleet image whose device key is made inside a PKCS#11 token (SoftHSM), first boot under systemd', () => {
  const SERIAL = 'gw-image-hsm-7';
  let dev: Device;

  beforeAll(async () => {
    dev = await Device.boot({ sim: fleet.sim }, SERIAL, { rootfs: { extraPackages: TOOL_PACKAGES }, prepare: (root) => buildImage(root, SERIAL, true) });
  });
  afterAll(async () => {
    await dev?.stop();
  });

  /** The private keys in the device's token, by label, as OpenSC lists them on the device. */
  async function tokenKeyLabels(): Promise<string[]> {
    const r = await dev.exec(['pkcs11-tool', '--module', SOFTHSM, '--token-label', TOKEN.label, '--login', '--pin', TOKEN.pin, '--list-objects', '--type', 'privkey']);
    return [...r.stdout.matchAll(/^\s*label:\s*(.*?)\s*$/gm)].map((m) => m[1] ?? '').sort();
  }

  it('with the token store read-only (the unit without ReadWritePaths) it stays up and STATUS= says the store must be writable', async () => {
    const p = await dev.waitForUnit((q) => /provisioning failed: pkcs11 generating a key in the token/.test(q.StatusText ?? ''), 'STATUS= naming the failed key generation');
    expect(p).toMatchObject({ ActiveState: 'active', SubState: 'running', NRestarts: '0' });
    expect(p.StatusText).toMatch(/CKR_GENERAL_ERROR .*needs its store writable by the agent/);
    // SoftHSM says why in the journal (syslog), under the unit.
    expect(await dev.journal()).toMatch(/Read-only file system.*\/var\/lib\/softhsm\/tokens/);
    expect(existsSync(dev.c.path(`${IDENTITY}/identity.json`))).toBe(false);
  });

  it('with the shipped unit it generates the key in the token, enrols over aws-crt and runs the group job', async () => {
    const certs = await certificateCount(fleet.iot);
    await dev.dropIn(NO_TOKEN_STORE, undefined);
    await dev.exec(['systemctl', 'restart', UNIT], { timeoutMs: 180_000 });
    await dev.waitIdle();
    const identity = identityOf(dev);
    expect(identity).toMatchObject({ thingName: SERIAL, templateName: 'Fleet', key: 'pkcs11' });
    // The key never left the token: no key file, and the token holds it under its label.
    expect(existsSync(dev.c.path(`${IDENTITY}/private.key`))).toBe(false);
    expect(await tokenKeyLabels()).toEqual([TOKEN.keyLabel]);
    expect(await certificateCount(fleet.iot)).toBe(certs + 1);
    await expectEnrolled(SERIAL, identity.certificateId!);
    await expectGroupJobDone(dev);
  });

  it('rotates its certificate by job: a new key made in the token, the old one destroyed, through the unit sandbox', async () => {
    const before = identityOf(dev);
    await fleet.iot.send(
      new CreateJobCommand({ jobId: 'rotate-hsm', targets: [`arn:aws:iot:us-east-1:123456789012:thing/${SERIAL}`], document: JSON.stringify({ operation: 'rotate-certificate', templateName: 'Rotate' }) }),
    );
    const done = await dev.waitForJob('rotate-hsm', 'SUCCEEDED');
    const now = identityOf(dev);
    expect(done.details).toEqual({ certificateId: now.certificateId, previousCertificateId: before.certificateId });
    expect(now.keyLabel).toMatch(new RegExp(`^${TOKEN.keyLabel}\\.`));
    expect(await tokenKeyLabels()).toEqual([now.keyLabel]);
    // The new certificate is ACTIVE; the old one stays attached until the operator retires it (docs/INSTALL.md §10).
    const cert = await fleet.iot.send(new DescribeCertificateCommand({ certificateId: now.certificateId }));
    expect(cert.certificateDescription?.status).toBe('ACTIVE');
    const principals = await fleet.iot.send(new ListThingPrincipalsCommand({ thingName: SERIAL }));
    expect(principals.principals?.map((a) => a.split('/').pop()).sort()).toEqual([before.certificateId, now.certificateId].sort());
    expect(await dev.waitIdle()).toMatchObject({ NRestarts: '0' });
  });
});
