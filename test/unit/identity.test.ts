/**
 * The device-side pieces of fleet provisioning and rotation that need no broker: parameters, the
 * claim client id, configuration with and without an identity, the CSR, and the recovery of a
 * rotation interrupted at each step (real files in a temporary directory).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load';
import type { ProvisioningConfig } from '../../src/config/types';
import { csrFor, generateKeyPem } from '../../src/identity/keys';
import { identityPaths, writeJson, ensureIdentityDir } from '../../src/identity/layout';
import { activeKeyLabel } from '../../src/config/identity-paths';
import type { IdentityRecord } from '../../src/identity/layout';
import { claimClientId, resolveParameters } from '../../src/identity/parameters';
import { tokenUsable, TOKEN_USABLE_MS } from '../../src/identity/progress';
import { commitNext, recoverRotation, switchToNext, writeRotation } from '../../src/identity/rotation-files';
import type { RotationRecord } from '../../src/identity/rotation-files';
import { certMatchesKey, createCa, issueCertFromCsr } from '../../src/lib/pki';
import { type ConfigError } from '../../src/lib/errors';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'identity-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const prov = (over: Partial<ProvisioningConfig> = {}): ProvisioningConfig => ({
  templateName: 'Fleet',
  method: 'csr',
  claim: { certificateFile: 'c', privateKeyFile: 'k' },
  parameters: {},
  stepTimeoutSeconds: 30,
  ...over,
});

describe('provisioning parameters', () => {
  it('takes literals, the first line of a file and environment variables', async () => {
    writeFileSync(join(dir, 'serial'), 'SN-0042\nsecond line\n');
    const params = await resolveParameters(prov({ parameters: { Model: 'gw-x2', SerialNumber: { file: join(dir, 'serial') }, Site: { env: 'SITE' } } }), { SITE: 'plant-7' });
    expect(params).toEqual({ Model: 'gw-x2', SerialNumber: 'SN-0042', Site: 'plant-7' });
  });

  it('names the parameter whose source is missing', async () => {
    await expect(resolveParameters(prov({ parameters: { SerialNumber: { file: join(dir, 'nope') } } }), {})).rejects.toThrow(/provisioning.parameters.SerialNumber: cannot read .*nope: ENOENT/);
    await expect(resolveParameters(prov({ parameters: { Site: { env: 'SITE' } } }), {})).rejects.toThrow('provisioning.parameters.Site: environment variable SITE is not set');
    writeFileSync(join(dir, 'empty'), '\n');
    await expect(resolveParameters(prov({ parameters: { S: { file: join(dir, 'empty') } } }), {})).rejects.toThrow('is empty');
  });

  it('gives the claim connection a client id of this device: configured, serial number, else machine id', async () => {
    const machineIdFile = join(dir, 'machine-id');
    writeFileSync(machineIdFile, '0123abcd\n');
    expect(await claimClientId(prov({ clientId: 'mine' }), { SerialNumber: 'x' }, { env: {}, machineIdFile })).toBe('mine');
    expect(await claimClientId(prov(), { SerialNumber: 'SN 42/a' }, { env: {}, machineIdFile })).toBe('provisioning-SN-42-a');
    expect(await claimClientId(prov(), {}, { env: {}, machineIdFile })).toBe('provisioning-0123abcd');
    await expect(claimClientId(prov(), {}, { env: {}, machineIdFile: join(dir, 'none') })).rejects.toThrow(/set provisioning.clientId/);
  });

  it('uses an ownership token only while it is younger than 55 minutes', () => {
    const p = { step: 'certificate' as const, templateName: 'Fleet', ownershipToken: 't', tokenIssuedAt: 1_000_000, attempts: 1 };
    expect(tokenUsable(p, 1_000_000 + TOKEN_USABLE_MS - 1)).toBe(true);
    expect(tokenUsable(p, 1_000_000 + TOKEN_USABLE_MS)).toBe(false);
    expect(tokenUsable({ ...p, ownershipToken: undefined }, 1_000_000)).toBe(false);
  });
});

describe('configuration with provisioning', () => {
  const base = { mqtt: { endpoint: 'iot.example.com' }, tls: { rootCaFile: 'ca.pem' }, provisioning: { templateName: 'Fleet', claim: { certificateFile: 'claim.pem', privateKeyFile: 'claim.key' } } };

  it('needs no thing name or device certificate; both come from the identity directory', () => {
    const cfg = loadConfig({ overrides: { ...base, stateDirectory: dir }, cwd: dir });
    expect(cfg.thingName).toBe('');
    expect(cfg.mqtt.clientId).toBe('');
    expect(cfg.tls.certificateFile).toBe(join(dir, 'identity', 'certificate.pem'));
    expect(cfg.tls.privateKeyFile).toBe(join(dir, 'identity', 'private.key'));
    expect(cfg.provisioning).toMatchObject({ method: 'csr', parameters: {}, stepTimeoutSeconds: 30, claim: { certificateFile: join(dir, 'claim.pem') } });
  });

  it('takes the thing name (and so the client id) from identity.json once provisioned', async () => {
    const paths = identityPaths(dir);
    await ensureIdentityDir(paths);
    await writeJson(paths.record, { thingName: 'gw-7', certificateId: 'a'.repeat(64), templateName: 'Fleet', deviceConfiguration: {}, provisionedAt: 'x', key: 'file' });
    const cfg = loadConfig({ overrides: { ...base, stateDirectory: dir }, cwd: dir });
    expect([cfg.thingName, cfg.mqtt.clientId]).toEqual(['gw-7', 'gw-7']);
  });

  it('refuses device files in tls with provisioning, and a missing thing name without it', () => {
    expect(() => loadConfig({ overrides: { ...base, tls: { rootCaFile: 'ca', certificateFile: 'c' } } })).toThrow(/tls.certificateFile: not allowed with provisioning/);
    const err = (() => {
      try {
        loadConfig({ overrides: { mqtt: { endpoint: 'h' }, tls: { rootCaFile: 'ca', privateKeyFile: 'k' } } });
      } catch (e) {
        return e as ConfigError;
      }
      return undefined;
    })();
    expect(err?.problems).toEqual(expect.arrayContaining([expect.stringMatching(/^thingName: required/), expect.stringMatching(/^tls.certificateFile: required/)]));
    expect(() => loadConfig({ overrides: { ...base, provisioning: { ...base.provisioning, templateName: 'bad name' } } })).toThrow(/provisioning.templateName/);
  });
});

describe('keys made on the device', () => {
  it('signs a CSR that a CA issues a certificate from, for that same key', async () => {
    const keyPem = await generateKeyPem();
    const ca = await createCa({ commonName: 'test-ca' });
    const { certPem } = await issueCertFromCsr(ca, await csrFor(keyPem, 'iot-jobs-agent'), { commonName: 'gw-1' });
    expect(certMatchesKey(certPem, keyPem)).toBe(true);
    expect(certMatchesKey(certPem, await generateKeyPem())).toBe(false);
  });
});

describe('rotation recovery after a crash at each step', () => {
  const oldId = 'a'.repeat(64);
  const newId = 'b'.repeat(64);
  let paths: ReturnType<typeof identityPaths>;
  const identity: IdentityRecord = { thingName: 'gw-1', certificateId: oldId, templateName: 'Fleet', deviceConfiguration: {}, provisionedAt: 'x', key: 'file' };
  const rec: RotationRecord = { phase: 'requested', jobId: 'rot-1', templateName: 'Rotate', oldCertificateId: oldId, startedAt: 'x' };

  beforeEach(async () => {
    paths = identityPaths(dir);
    await ensureIdentityDir(paths);
    writeFileSync(paths.certificateFile, 'OLD CERT');
    writeFileSync(paths.privateKeyFile, 'OLD KEY', { mode: 0o600 });
    await writeJson(paths.record, identity);
  });
  const files = () => [readFileSync(paths.certificateFile, 'utf8'), readFileSync(paths.privateKeyFile, 'utf8')];

  it('nothing in flight: nothing to do', async () => {
    await expect(recoverRotation(paths)).resolves.toBeUndefined();
  });

  it('before the switch (key made, certificate issued): abandoned, the old files untouched', async () => {
    writeFileSync(paths.nextKey, 'NEW KEY');
    writeFileSync(paths.nextCertificate, 'NEW CERT');
    await writeRotation(paths, { ...rec, phase: 'registered', newCertificateId: newId });
    await expect(recoverRotation(paths)).resolves.toBe('abandoned');
    expect(files()).toEqual(['OLD CERT', 'OLD KEY']);
    expect([existsSync(paths.nextKey), existsSync(paths.rotation)]).toEqual([false, false]);
  });

  it('switched but not committed: the old identity is restored', async () => {
    writeFileSync(paths.nextKey, 'NEW KEY');
    writeFileSync(paths.nextCertificate, 'NEW CERT');
    await switchToNext(paths, { ...rec, phase: 'registered', newCertificateId: newId });
    expect(files()).toEqual(['NEW CERT', 'NEW KEY']);
    await expect(recoverRotation(paths)).resolves.toBe('rolled-back');
    expect(files()).toEqual(['OLD CERT', 'OLD KEY']);
    expect(statSync(paths.privateKeyFile).mode & 0o777).toBe(0o600);
    expect(existsSync(paths.previousKey)).toBe(false);
  });

  it('half switched (new key, old certificate): the old identity is restored', async () => {
    writeFileSync(paths.nextKey, 'NEW KEY');
    writeFileSync(paths.nextCertificate, 'NEW CERT');
    const r = { ...rec, phase: 'registered' as const, newCertificateId: newId };
    // switchToNext up to the key rename, by hand: copies, phase, key.
    writeFileSync(paths.previousCertificate, 'OLD CERT');
    writeFileSync(paths.previousKey, 'OLD KEY', { mode: 0o600 });
    await writeRotation(paths, { ...r, phase: 'switching' });
    writeFileSync(paths.privateKeyFile, 'NEW KEY');
    await expect(recoverRotation(paths)).resolves.toBe('rolled-back');
    expect(files()).toEqual(['OLD CERT', 'OLD KEY']);
  });

  it('committed but not cleaned up: the new identity stays, the old key is destroyed', async () => {
    writeFileSync(paths.nextKey, 'NEW KEY');
    writeFileSync(paths.nextCertificate, 'NEW CERT');
    const r = { ...rec, phase: 'registered' as const, newCertificateId: newId };
    await switchToNext(paths, r);
    await writeJson(paths.record, { ...identity, certificateId: newId });
    await expect(recoverRotation(paths)).resolves.toBe('committed');
    expect(files()).toEqual(['NEW CERT', 'NEW KEY']);
    expect([existsSync(paths.previousKey), existsSync(paths.rotation)]).toEqual([false, false]);
  });

  it('commit names the new certificate and the one it replaced', async () => {
    const next = await commitNext(paths, identity, { ...rec, phase: 'registered', newCertificateId: newId });
    expect(next).toMatchObject({ certificateId: newId, previousCertificateId: oldId, thingName: 'gw-1' });
    expect(JSON.parse(readFileSync(paths.record, 'utf8'))).toMatchObject({ certificateId: newId });
  });
});

describe('token key rotation (pkcs11): key-label files and which token key is destroyed', () => {
  const oldId = 'a'.repeat(64);
  const newId = 'b'.repeat(64);
  let paths: ReturnType<typeof identityPaths>;
  const identity: IdentityRecord = { thingName: 'gw-1', certificateId: oldId, templateName: 'Fleet', deviceConfiguration: {}, provisionedAt: 'x', key: 'pkcs11' };
  const rec: RotationRecord = { phase: 'registered', jobId: 'rot-1', templateName: 'Rotate', oldCertificateId: oldId, newCertificateId: newId, startedAt: 'x', token: { oldLabel: 'dev', newLabel: 'dev.2' } };
  let removed: string[];
  const remove = async (label: string): Promise<void> => {
    removed.push(label);
  };

  beforeEach(async () => {
    removed = [];
    paths = identityPaths(dir);
    await ensureIdentityDir(paths);
    writeFileSync(paths.certificateFile, 'OLD CERT');
    await writeJson(paths.record, identity);
    writeFileSync(paths.nextCertificate, 'NEW CERT');
    writeFileSync(paths.nextKeyLabel, 'dev.2\n');
  });
  const label = (): string => activeKeyLabel(paths, 'dev', (f) => readFileSync(f, 'utf8'));

  it('switching points key-label at the new key; a crash then restores the old label and destroys the new key', async () => {
    expect(label()).toBe('dev');
    await switchToNext(paths, rec);
    expect([readFileSync(paths.certificateFile, 'utf8'), label()]).toEqual(['NEW CERT', 'dev.2']);
    await expect(recoverRotation(paths, remove)).resolves.toBe('rolled-back');
    expect([readFileSync(paths.certificateFile, 'utf8'), label()]).toEqual(['OLD CERT', 'dev']);
    expect(removed).toEqual(['dev.2']);
    expect(existsSync(paths.previousKeyLabel)).toBe(false);
  });

  it('a crash before the switch abandons the rotation and destroys the new key only', async () => {
    await writeRotation(paths, rec);
    await expect(recoverRotation(paths, remove)).resolves.toBe('abandoned');
    expect(label()).toBe('dev');
    expect(removed).toEqual(['dev.2']);
  });

  it('commit records the new label and destroys the old key only after identity.json names the new certificate', async () => {
    await switchToNext(paths, rec);
    const seen: string[] = [];
    const next = await commitNext(paths, identity, rec, async (l) => {
      seen.push(`${l}:${(JSON.parse(readFileSync(paths.record, 'utf8')) as IdentityRecord).certificateId}`);
    });
    expect(next).toMatchObject({ certificateId: newId, keyLabel: 'dev.2' });
    expect(seen).toEqual([`dev:${newId}`]);
    expect(label()).toBe('dev.2');
  });

  it('committed but not cleaned up: the old key is destroyed at the next start', async () => {
    await switchToNext(paths, rec);
    await writeJson(paths.record, { ...identity, certificateId: newId });
    await expect(recoverRotation(paths, remove)).resolves.toBe('committed');
    expect([label(), removed]).toEqual(['dev.2', ['dev']]);
  });
});
