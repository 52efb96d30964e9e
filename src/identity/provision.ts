/**
 * First boot by claim (docs/ARCHITECTURE.md §8): connect with the fleet's claim certificate and a
 * client id of this device's own, get a certificate (CSR by default), register the thing with the
 * template, install the identity atomically (identity.json last), disconnect. Every step is
 * persisted in provisioning.json first, so a crash resumes where it stopped: a certificate whose
 * ownership token is still good is registered, not minted again; a registered one is installed
 * without contacting anyone.
 */
import { promises as fsp } from 'node:fs';
import type { AgentConfig, ProvisioningConfig } from '../config/types';
import { Backoff, sleep } from '../lib/backoff';
import { certMatchesKey } from '../lib/certs';
import { AgentError, errorMessage } from '../lib/errors';
import { atomicWriteFile } from '../lib/fsutil';
import type { Logger } from '../lib/log';
import { createDialer, resolveProxy } from '../net';
import { createTransport, readPin } from '../transport';
import type { Transport, TransportOptions } from '../transport';
import { ProvisioningClient } from './api';
import { installPendingKey, pendingCsr, storeAwsKey } from './device-key';
import { IdentityError, isPermanent, ProvisioningRejectedError } from './errors';
import type { IdentityPaths, IdentityRecord } from './layout';
import { ensureIdentityDir, identityPaths, readIdentity, removeDurably, writeJson } from './layout';
import { claimClientId, resolveParameters } from './parameters';
import { tokenCsr, tokenKeyMatches } from './pkcs11-key';
import type { TokenKey } from './pkcs11-key';
import type { ProvisioningProgress } from './progress';
import { readProgress, tokenUsable, writeProgress } from './progress';

export interface ProvisionOptions {
  config: AgentConfig;
  log: Logger;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Where provisioning stands, in words (STATUS=, the log). */
  onState?: (text: string) => void;
  now?: () => number;
  machineIdFile?: string;
  createTransport?: (o: TransportOptions) => Transport;
  /** Backoff for passing trouble (429, 5xx, timeouts) and for configuration problems. */
  backoff?: { transient: { baseMs: number; maxMs: number }; permanent: { baseMs: number; maxMs: number } };
}

const DEFAULT_BACKOFF = { transient: { baseMs: 1000, maxMs: 60_000 }, permanent: { baseMs: 30_000, maxMs: 15 * 60_000 } };

/**
 * The CSR's subject: AWS ignores it and decides the certificate's own, but brokers that take a
 * client's identity from the CN (mosquitto with use_identity_as_username) see this name; the serial
 * number is what most templates name the thing after.
 */
function subjectHint(params: Record<string, string>): string {
  return params.ThingName ?? params.SerialNumber ?? 'iot-jobs-agent';
}

function provisioningOf(config: AgentConfig): ProvisioningConfig {
  if (!config.provisioning) throw new IdentityError('provisioning is not configured');
  return config.provisioning;
}

/** What the claim certificate's IoT policy must allow, said whenever a request goes unanswered. */
export function claimPolicyHint(p: ProvisioningConfig): string {
  const create = p.method === 'csr' ? '$aws/certificates/create-from-csr/*' : '$aws/certificates/create/*';
  return `the claim certificate's IoT policy must allow iot:Publish and iot:Receive on topic/${create} and topic/$aws/provisioning-templates/${p.templateName}/provision/*, and iot:Subscribe on the same as topicfilter/`;
}

class Attempt {
  readonly paths: IdentityPaths;
  readonly p: ProvisioningConfig;
  constructor(readonly o: ProvisionOptions) {
    this.paths = identityPaths(o.config.stateDirectory);
    this.p = provisioningOf(o.config);
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  private async save(progress: ProvisioningProgress): Promise<void> {
    await ensureIdentityDir(this.paths);
    await writeProgress(this.paths, progress);
  }

  async run(progress: ProvisioningProgress): Promise<IdentityRecord> {
    if (progress.step !== 'registered') {
      const params = await resolveParameters(this.p, this.o.env);
      const clientId = await claimClientId(this.p, params, { env: this.o.env, ...(this.o.machineIdFile ? { machineIdFile: this.o.machineIdFile } : {}) });
      const transport = this.claimTransport(clientId);
      try {
        this.o.onState?.(`provisioning: connecting with the claim certificate as ${clientId}`);
        await transport.connect();
        const client = new ProvisioningClient(transport, this.p.stepTimeoutSeconds * 1000);
        progress = await this.certificate(client, progress, params);
        progress = await this.register(client, progress, params);
      } finally {
        // The claim session ends before the device connects as itself (AWS: provision-wo-cert).
        await transport.close();
      }
    }
    return this.install(progress);
  }

  private claimTransport(clientId: string): Transport {
    const c = this.o.config;
    const opts: TransportOptions = {
      transport: 'mqtt',
      host: c.mqtt.endpoint,
      port: c.mqtt.port,
      clientId,
      protocolVersion: c.mqtt.protocolVersion,
      alpn: c.mqtt.alpn,
      keepAliveSeconds: c.mqtt.keepAliveSeconds,
      tls: { certificateFile: this.p.claim.certificateFile, privateKeyFile: this.p.claim.privateKeyFile, rootCaFile: c.tls.rootCaFile },
      operationTimeoutMs: this.p.stepTimeoutSeconds * 1000,
      connectTimeoutMs: this.p.stepTimeoutSeconds * 1000,
      // The claim connection leaves the device the same way as every other (the proxy, if any).
      network: createDialer(resolveProxy(c.proxy, this.o.env)),
    };
    return (this.o.createTransport ?? createTransport)(opts);
  }

  /** A certificate with a usable ownership token: the one on record, or a new one. */
  private async certificate(client: ProvisioningClient, progress: ProvisioningProgress, params: Record<string, string>): Promise<ProvisioningProgress> {
    if (progress.step === 'certificate' && tokenUsable(progress, this.now()) && progress.templateName === this.p.templateName) {
      this.o.log.info({ certificateId: progress.certificateId }, 'provisioning: resuming with the certificate already issued');
      return progress;
    }
    this.o.onState?.(`provisioning: requesting a certificate (${this.p.method === 'csr' ? 'CreateCertificateFromCsr' : 'CreateKeysAndCertificate'})`);
    let issued;
    let key: ProvisioningProgress['key'];
    if (this.p.method === 'csr') {
      const token = this.tokenKey();
      const cn = subjectHint(params);
      issued = await client.createCertificateFromCsr(token ? await tokenCsr(token, cn) : await pendingCsr(this.paths, cn));
      key = token ? 'pkcs11' : 'file';
    } else {
      if (this.o.config.pkcs11) throw new IdentityError('method "create-keys" cannot put a key into the PKCS#11 token; use method "csr"');
      const k = await client.createKeysAndCertificate();
      await storeAwsKey(this.paths, k.privateKey);
      issued = k;
      key = 'aws';
    }
    const next: ProvisioningProgress = {
      step: 'certificate',
      templateName: this.p.templateName,
      certificateId: issued.certificateId,
      certificatePem: issued.certificatePem,
      ownershipToken: issued.certificateOwnershipToken,
      tokenIssuedAt: this.now(),
      key,
      attempts: progress.attempts,
    };
    await this.save(next);
    this.o.log.info({ certificateId: issued.certificateId }, 'provisioning: certificate issued');
    return next;
  }

  private async register(client: ProvisioningClient, progress: ProvisioningProgress, params: Record<string, string>): Promise<ProvisioningProgress> {
    this.o.onState?.(`provisioning: registering the thing (template ${this.p.templateName})`);
    try {
      const reg = await client.registerThing(this.p.templateName, progress.ownershipToken ?? '', params);
      const next: ProvisioningProgress = { ...progress, step: 'registered', thingName: reg.thingName, deviceConfiguration: reg.deviceConfiguration };
      delete next.lastError;
      await this.save(next);
      this.o.log.info({ thingName: reg.thingName, certificateId: progress.certificateId }, 'provisioning: thing registered');
      return next;
    } catch (err) {
      if (err instanceof ProvisioningRejectedError && err.tokenInvalid) {
        // Start again from the certificate next time; the unused one expires with its token.
        await this.save({ step: 'start', templateName: this.p.templateName, attempts: progress.attempts });
      }
      throw err;
    }
  }

  /** With pkcs11, the device key is made and kept in the token under pkcs11.keyLabel. */
  private tokenKey(): TokenKey | undefined {
    const p11 = this.o.config.pkcs11;
    return p11 ? { p11, pin: readPin(p11, this.o.env), label: p11.keyLabel } : undefined;
  }

  /** Certificate, key, then identity.json last: only a complete identity is ever read as one. */
  private async install(progress: ProvisioningProgress): Promise<IdentityRecord> {
    const { thingName, certificatePem, certificateId } = progress;
    if (!thingName || !certificatePem || !certificateId) throw new IdentityError('provisioning.json is incomplete; starting again');
    await ensureIdentityDir(this.paths);
    await atomicWriteFile(this.paths.certificateFile, certificatePem, 0o644);
    const token = progress.key === 'pkcs11' ? this.tokenKey() : undefined;
    if (token) {
      if (!(await tokenKeyMatches(token, certificatePem))) throw new IdentityError(`the token key ${token.label} is not the key of the issued certificate`);
    } else {
      await installPendingKey(this.paths);
      const keyPem = await fsp.readFile(this.paths.privateKeyFile, 'utf8');
      if (!certMatchesKey(certificatePem, keyPem)) throw new IdentityError(`${this.paths.privateKeyFile} is not the key of the issued certificate`);
    }
    const record: IdentityRecord = {
      thingName,
      certificateId,
      templateName: progress.templateName,
      deviceConfiguration: progress.deviceConfiguration ?? {},
      provisionedAt: new Date(this.now()).toISOString(),
      key: progress.key ?? 'file',
    };
    await writeJson(this.paths.record, record, 0o644);
    await removeDurably(this.paths.progress);
    this.o.log.info({ thingName, certificateId }, 'provisioning: identity installed');
    return record;
  }
}

/**
 * One pass of provisioning (what `provision` runs): the identity on record, or a new one. Throws on
 * the first failure, after recording it in provisioning.json for `status`.
 */
export async function provisionOnce(o: ProvisionOptions): Promise<IdentityRecord> {
  const paths = identityPaths(o.config.stateDirectory);
  const have = await readIdentity(paths);
  if (have) return have;
  const p = provisioningOf(o.config);
  const progress = (await readProgress(paths)) ?? { step: 'start', templateName: p.templateName, attempts: 0 };
  const attempt = new Attempt(o);
  try {
    return await attempt.run({ ...progress, attempts: progress.attempts + 1 });
  } catch (err) {
    const permanent = isPermanent(err);
    const latest = (await readProgress(paths).catch(() => undefined)) ?? progress;
    const message = describe(err, p);
    await ensureIdentityDir(paths).then(() =>
      writeProgress(paths, { ...latest, attempts: progress.attempts + 1, lastError: { at: new Date().toISOString(), message, permanent } }),
    ).catch(() => undefined);
    throw new AgentError(permanent ? 'ProvisioningProblem' : 'ProvisioningRetry', message, { retryable: !permanent, cause: err });
  }
}

function describe(err: unknown, p: ProvisioningConfig): string {
  if (err instanceof ProvisioningRejectedError) {
    if (err.operation === 'RegisterThing' && err.statusCode === 404) return `template ${p.templateName} does not exist (RegisterThing: ${err.message})`;
    return err.message;
  }
  if (err instanceof AgentError && (err.code === 'Timeout' || err.code === 'ProvisioningUnreachable')) return `${errorMessage(err)}; ${claimPolicyHint(p)}`;
  return errorMessage(err);
}

/**
 * Provision until it works or `signal` fires (what `run` does before connecting as the thing):
 * configuration problems are said and retried slowly, passing trouble retried with backoff.
 */
export async function ensureIdentity(o: ProvisionOptions): Promise<IdentityRecord> {
  const b = o.backoff ?? DEFAULT_BACKOFF;
  const transient = new Backoff(b.transient);
  const permanent = new Backoff(b.permanent);
  for (;;) {
    try {
      return await provisionOnce(o);
    } catch (err) {
      const slow = err instanceof AgentError && !err.retryable;
      const delay = (slow ? permanent : transient).next();
      o.log.error({ err: errorMessage(err), retryInMs: delay }, slow ? 'provisioning failed: fix the configuration or the template' : 'provisioning failed; retrying');
      o.onState?.(`provisioning failed: ${errorMessage(err)}; retrying in ${Math.ceil(delay / 1000)} s`);
      await sleep(delay, o.signal);
    }
  }
}
