import { promises as fsp, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkConfig } from '../../src/config/check';
import { loadConfig } from '../../src/config/load';
import type { AgentConfig } from '../../src/config/types';
import { createCa, issueCert, type KeyPairPem } from '../../src/lib/pki';

let dir: string;
let ca: KeyPairPem;
let device: KeyPairPem;
let other: KeyPairPem;

beforeAll(async () => {
  ca = await createCa({ commonName: 'test CA' });
  device = await issueCert(ca, { commonName: 'gateway-42' });
  other = await issueCert(ca, { commonName: 'someone-else' });
});

beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'check-'));
  await fsp.mkdir(path.join(dir, 'certs'));
  await fsp.writeFile(path.join(dir, 'certs/device.crt'), device.certPem, { mode: 0o644 });
  await fsp.writeFile(path.join(dir, 'certs/device.key'), device.keyPem, { mode: 0o600 });
  await fsp.writeFile(path.join(dir, 'certs/ca.pem'), ca.certPem, { mode: 0o644 });
  await fsp.mkdir(path.join(dir, 'handlers'), { mode: 0o755 });
  await fsp.chmod(path.join(dir, 'handlers'), 0o755);
});
afterEach(() => fsp.rm(dir, { recursive: true, force: true }));

function config(overrides: Record<string, unknown> = {}): AgentConfig {
  const base = {
    thingName: 'gateway-42',
    mqtt: { endpoint: 'localhost', clientId: 'gateway-42-jobs' },
    tls: { certificateFile: 'certs/device.crt', privateKeyFile: 'certs/device.key', rootCaFile: 'certs/ca.pem' },
    handlers: { directories: ['handlers'] },
    stateDirectory: 'state',
  };
  const file = path.join(dir, 'agent.json');
  writeFileSync(file, JSON.stringify(base));
  return loadConfig({ file, overrides });
}

const noGreengrass = () => ({ greengrassRoot: path.join(dir, 'no-greengrass') });

describe('checkConfig', () => {
  it('passes a good configuration with no errors and no warnings', async () => {
    expect(await checkConfig(config(), noGreengrass())).toEqual({ errors: [], warnings: [] });
  });

  it('reports missing files by key', async () => {
    await fsp.rm(path.join(dir, 'certs/device.crt'));
    await fsp.rm(path.join(dir, 'certs/ca.pem'));
    const { errors } = await checkConfig(config(), noGreengrass());
    expect(errors).toEqual([
      `tls.certificateFile: ${path.join(dir, 'certs/device.crt')} does not exist`,
      `tls.rootCaFile: ${path.join(dir, 'certs/ca.pem')} does not exist`,
    ]);
  });

  it('refuses a private key readable by group or others', async () => {
    const key = path.join(dir, 'certs/device.key');
    await fsp.chmod(key, 0o644);
    const { errors } = await checkConfig(config(), noGreengrass());
    expect(errors).toEqual([`tls.privateKeyFile: ${key} is accessible by group or others (mode 0644); run: chmod 600 ${key}`]);
    await fsp.chmod(key, 0o640);
    expect((await checkConfig(config(), noGreengrass())).errors).toHaveLength(1);
    await fsp.chmod(key, 0o400);
    expect((await checkConfig(config(), noGreengrass())).errors).toEqual([]);
  });

  it('detects a certificate that does not belong to the key', async () => {
    await fsp.writeFile(path.join(dir, 'certs/device.key'), other.keyPem);
    const { errors } = await checkConfig(config(), noGreengrass());
    expect(errors).toEqual([expect.stringMatching(/^tls\.privateKeyFile: .*device\.key is not the key of the certificate .*device\.crt$/)]);
  });

  it('reports files that do not parse', async () => {
    await fsp.writeFile(path.join(dir, 'certs/device.crt'), 'not a cert');
    await fsp.writeFile(path.join(dir, 'certs/device.key'), 'not a key');
    await fsp.writeFile(path.join(dir, 'certs/ca.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const { errors } = await checkConfig(config(), noGreengrass());
    expect(errors).toEqual([
      expect.stringMatching(/^tls\.certificateFile: .* is not a PEM certificate/),
      expect.stringMatching(/^tls\.privateKeyFile: .* is not a PEM private key/),
      expect.stringMatching(/^tls\.rootCaFile: certificate 1 in .* does not parse/),
    ]);
  });

  it('warns (never errs) about a certificate outside its validity by the device clock, and before expiry', async () => {
    const later = new Date(Date.now() + 400 * 86_400_000);
    const expired = await checkConfig(config(), { ...noGreengrass(), now: later });
    expect(expired.warnings).toContainEqual(expect.stringMatching(/^tls\.certificateFile: certificate expired on .* by device time /));
    expect(expired.errors.filter((e) => e.startsWith('tls.certificateFile'))).toEqual([]);
    // A device without RTC boots in 1970: the clock, not the configuration, is wrong.
    const boot = await checkConfig(config(), { ...noGreengrass(), now: new Date('1970-01-02T00:00:00Z') });
    expect(boot.warnings).toContainEqual(expect.stringMatching(/^tls\.certificateFile: certificate is not valid before .* by device time 1970-01-02T00:00:00\.000Z \(is the clock right\?\)/));
    expect(boot.errors.filter((e) => e.startsWith('tls.certificateFile'))).toEqual([]);
    const soon = new Date(Date.now() + 350 * 86_400_000);
    expect((await checkConfig(config(), { ...noGreengrass(), now: soon })).warnings).toContainEqual(
      expect.stringMatching(/^tls\.certificateFile: certificate expires soon/),
    );
  });

  it('accepts a creatable state directory and refuses one under a file', async () => {
    expect((await checkConfig(config({ stateDirectory: path.join(dir, 'a/b/c') }), noGreengrass())).errors).toEqual([]);
    await fsp.writeFile(path.join(dir, 'file'), '');
    const { errors } = await checkConfig(config({ stateDirectory: path.join(dir, 'file/state') }), noGreengrass());
    expect(errors).toEqual([`stateDirectory: ${path.join(dir, 'file')} is not a directory`]);
  });

  it('warns about a state directory writable by others', async () => {
    const state = path.join(dir, 'state');
    await fsp.mkdir(state);
    await fsp.chmod(state, 0o777);
    const { warnings } = await checkConfig(config(), noGreengrass());
    expect(warnings).toEqual([expect.stringMatching(/^stateDirectory: .* is writable by group or others \(mode 0777\)/)]);
  });

  it('refuses handler directories writable by group or others, or missing', async () => {
    const handlers = path.join(dir, 'handlers');
    await fsp.chmod(handlers, 0o775);
    const cfg = config({ handlers: { scriptDirectories: [path.join(dir, 'nope')] } });
    const { errors } = await checkConfig(cfg, noGreengrass());
    expect(errors).toEqual([
      expect.stringMatching(/^handlers\.directories\[0\]: .*handlers is writable by group or others \(mode 0775\)/),
      expect.stringMatching(/^handlers\.scriptDirectories\[0\]: .*nope does not exist$/),
    ]);
  });

  it('warns when a namespace is the Greengrass deployment namespace', async () => {
    const cfg = config({ jobs: { namespaces: ['aws-gg-deployment'], mqttNamespaces: ['aws-gg-deployment'] } });
    const { warnings } = await checkConfig(cfg, noGreengrass());
    expect(warnings).toEqual([expect.stringMatching(/^jobs\.namespaces: "aws-gg-deployment" holds Greengrass deployments/)]);
  });

  it('refuses clientId == thingName on a Greengrass device and suggests {thingName}-jobs', async () => {
    const gg = path.join(dir, 'greengrass/v2');
    await fsp.mkdir(gg, { recursive: true });
    const same = config({ mqtt: { clientId: 'gateway-42' } });
    expect((await checkConfig(same, { greengrassRoot: gg })).errors).toEqual([
      expect.stringMatching(/^mqtt\.clientId: "gateway-42" equals the thing name, and a Greengrass installation at .* Use "gateway-42-jobs"/),
    ]);
    expect((await checkConfig(config(), { greengrassRoot: gg })).errors).toEqual([]);
    expect((await checkConfig(same, noGreengrass())).errors).toEqual([]);
  });

  it('warns (never errs) about a client id every device given the configuration would share', async () => {
    const shared = (r: { warnings: string[] }) => r.warnings.filter((w) => w.startsWith('mqtt.clientId:'));
    const fixed = await checkConfig(config({ mqtt: { clientId: 'jobs-agent' } }), noGreengrass());
    expect(fixed.errors).toEqual([]);
    expect(shared(fixed)).toEqual([expect.stringMatching(/^mqtt\.clientId: "jobs-agent" does not contain the thing name "gateway-42": every device .* same client id/)]);
    expect(shared(await checkConfig(config(), noGreengrass()))).toEqual([]);
    expect(shared(await checkConfig(config({ mqtt: { clientId: 'gateway-42' } }), noGreengrass()))).toEqual([]);

    // A fleet image: any fixed client id is shared, even one that names the thing in the file.
    const fleetConfig = (mqtt: Record<string, unknown>): AgentConfig => {
      const file = path.join(dir, 'fleet.json');
      const claim = { certificateFile: 'certs/device.crt', privateKeyFile: 'certs/device.key' };
      writeFileSync(file, JSON.stringify({ mqtt, tls: { rootCaFile: 'certs/ca.pem' }, handlers: { directories: ['handlers'] }, stateDirectory: 'state', provisioning: { templateName: 'Fleet', claim } }));
      return loadConfig({ file });
    };
    const fleet = await checkConfig(fleetConfig({ endpoint: 'localhost', clientId: 'gateway-42-jobs' }), noGreengrass());
    expect(shared(fleet)).toEqual([expect.stringMatching(/^mqtt\.clientId: "gateway-42-jobs" is a fixed client id in a configuration for fleet provisioning: every device provisioned with it connects as "gateway-42-jobs".*Leave mqtt\.clientId out/)]);
    expect(fleet.errors).toEqual([]);
    expect(shared(await checkConfig(fleetConfig({ endpoint: 'localhost' }), noGreengrass()))).toEqual([]);
  });

  it('checks the PKCS#11 library, PIN file permissions and PIN variable', async () => {
    const lib = path.join(dir, 'libp11.so');
    const pin = path.join(dir, 'pin');
    await fsp.writeFile(lib, '');
    await fsp.writeFile(pin, '1234\n', { mode: 0o644 });
    await fsp.chmod(pin, 0o644);
    const token = (p11: Record<string, unknown>): AgentConfig => {
      const base = config();
      return { ...base, mqtt: { ...base.mqtt, transport: 'aws-crt' }, tls: { ...base.tls, privateKeyFile: undefined }, pkcs11: { library: lib, tokenLabel: 't', keyLabel: 'k', ...p11 } };
    };
    let res = await checkConfig(token({ pinFile: pin }), noGreengrass());
    expect(res.errors).toEqual([`pkcs11.pinFile: ${pin} is accessible by group or others (mode 0644); run: chmod 600 ${pin}`]);
    await fsp.chmod(pin, 0o600);
    expect((await checkConfig(token({ pinFile: pin }), noGreengrass())).errors).toEqual([]);
    res = await checkConfig(token({ library: path.join(dir, 'missing.so'), pinEnv: 'MY_PIN' }), { ...noGreengrass(), env: {} });
    expect(res.errors).toEqual([expect.stringMatching(/^pkcs11\.library: .*missing\.so does not exist/)]);
    expect(res.warnings).toEqual(['pkcs11.pinEnv: MY_PIN is not set here; the service\'s environment must set it']);
    expect((await checkConfig(token({ pinEnv: 'MY_PIN' }), { ...noGreengrass(), env: { MY_PIN: '1' } })).warnings).toEqual([]);
  });

  it('warns about ALPN and port mismatches', async () => {
    expect((await checkConfig(config({ mqtt: { port: 443 } }), noGreengrass())).warnings).toEqual([
      expect.stringMatching(/^mqtt\.alpn: port 443 needs alpn: true/),
    ]);
    expect((await checkConfig(config({ mqtt: { alpn: true } }), noGreengrass())).warnings).toEqual([
      expect.stringMatching(/^mqtt\.alpn: ALPN x-amzn-mqtt-ca is meant for port 443, not 8883/),
    ]);
  });
});
