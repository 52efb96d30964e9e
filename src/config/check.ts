/**
 * `check-config`: what schema validation cannot see — files that exist, are readable, parse and
 * belong together; permissions that would let another local user steal the key or plant a handler;
 * and collisions with a Greengrass nucleus on the same device. Every problem is collected.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { constants, promises as fsp, readFileSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { errorMessage } from '../lib/errors';
import { certMatchesKey } from '../lib/certs';
import { activeKeyLabel, identityPaths, readIdentitySync } from './identity-paths';
import type { AgentConfig } from './types';

export interface CheckResult {
  errors: string[];
  warnings: string[];
}

export interface CheckOptions {
  /** Greengrass v2 root to look for (default /greengrass/v2, plus a scan for a running nucleus). */
  greengrassRoot?: string;
  /** Environment the PIN variable is looked up in (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Time for certificate validity checks (default now). */
  now?: Date;
  /**
   * Tries the PKCS#11 library, token, PIN and key (the CLI passes transport's probePkcs11; config/
   * cannot import it). Rejects with an Error explaining what is wrong. Without it only files are checked.
   */
  pkcs11Probe?: (p: Pkcs11Probe) => Promise<void>;
  /**
   * Checks the trust store's content (structure, keys, root signatures); throws an Error naming
   * the problem. The CLI passes the verifier's (config/ cannot import it). Without it only the file is checked.
   */
  trustProbe?: (text: string) => void;
}

export interface Pkcs11Probe {
  library: string;
  tokenLabel?: string;
  slotId?: number;
  keyLabel: string;
  pin: string;
  certificateFile: string;
}

const GREENGRASS_DEPLOYMENT_NAMESPACE = 'aws-gg-deployment';
const EXPIRY_WARNING_DAYS = 30;
const mode = (st: Stats) => `0${(st.mode & 0o777).toString(8)}`;

class Report implements CheckResult {
  errors: string[] = [];
  warnings: string[] = [];
  error(key: string, msg: string): void {
    this.errors.push(`${key}: ${msg}`);
  }
  warn(key: string, msg: string): void {
    this.warnings.push(`${key}: ${msg}`);
  }
}

function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'does not exist';
  if (e.code === 'EACCES') return 'cannot be reached by this user (permission denied)';
  return `cannot be used: ${typeof e.message === 'string' ? e.message : errorMessage(err)}`;
}

/** stat + read access; reports and returns undefined when the file is unusable. */
async function readableFile(r: Report, key: string, file: string): Promise<Stats | undefined> {
  let st: Stats;
  try {
    st = await fsp.stat(file);
  } catch (err) {
    r.error(key, `${file} ${describeFsError(err)}`);
    return undefined;
  }
  if (!st.isFile()) {
    r.error(key, `${file} is not a regular file`);
    return undefined;
  }
  try {
    await fsp.access(file, constants.R_OK);
  } catch {
    r.error(key, `${file} is not readable by this user`);
    return undefined;
  }
  return st;
}

/** A secret (key, PIN) must be neither readable nor writable by group or others. */
async function secretFile(r: Report, key: string, file: string): Promise<string | undefined> {
  const st = await readableFile(r, key, file);
  if (st === undefined) return undefined;
  if ((st.mode & 0o077) !== 0) r.error(key, `${file} is accessible by group or others (mode ${mode(st)}); run: chmod 600 ${file}`);
  return fsp.readFile(file, 'utf8');
}

/**
 * Validity is judged by this device's clock, which may be wrong (no RTC, NTP not synced yet): a
 * warning, never an error — the agent treats it as a runtime condition and connects once the
 * clock (or the certificate) is right, and exit code 2 would keep it down for good under systemd.
 */
function checkValidity(r: Report, key: string, cert: X509Certificate, now: Date): void {
  const to = new Date(cert.validTo);
  const clock = `device time ${now.toISOString()}`;
  if (new Date(cert.validFrom) > now) r.warn(key, `certificate is not valid before ${cert.validFrom} by ${clock} (is the clock right?); the agent waits for the clock and connects then`);
  if (to < now) r.warn(key, `certificate expired on ${cert.validTo} by ${clock}; the agent keeps retrying (replace the certificate, or fix the clock)`);
  else if (to.getTime() - now.getTime() < EXPIRY_WARNING_DAYS * 86_400_000) r.warn(key, `certificate expires soon (${cert.validTo})`);
}

async function checkTls(r: Report, cfg: AgentConfig, now: Date): Promise<void> {
  const certKey = 'tls.certificateFile';
  let certPem: string | undefined;
  if (await readableFile(r, certKey, cfg.tls.certificateFile)) {
    certPem = await fsp.readFile(cfg.tls.certificateFile, 'utf8');
    try {
      checkValidity(r, certKey, new X509Certificate(certPem), now);
    } catch (err) {
      r.error(certKey, `${cfg.tls.certificateFile} is not a PEM certificate (${errorMessage(err)})`);
      certPem = undefined;
    }
  }
  const keyFile = cfg.tls.privateKeyFile;
  if (keyFile !== undefined) {
    const keyPem = await secretFile(r, 'tls.privateKeyFile', keyFile);
    let keyOk = keyPem !== undefined;
    if (keyPem !== undefined) {
      try {
        createPrivateKey(keyPem);
      } catch (err) {
        r.error('tls.privateKeyFile', `${keyFile} is not a PEM private key (${errorMessage(err)})`);
        keyOk = false;
      }
    }
    if (keyOk && certPem !== undefined && keyPem !== undefined && !certMatchesKey(certPem, keyPem)) {
      r.error('tls.privateKeyFile', `${keyFile} is not the key of the certificate ${cfg.tls.certificateFile}`);
    }
  }
  await checkCaBundle(r, cfg.tls.rootCaFile, now);
}

async function checkCaBundle(r: Report, file: string, now: Date): Promise<void> {
  const key = 'tls.rootCaFile';
  if (!(await readableFile(r, key, file))) return;
  const blocks = (await fsp.readFile(file, 'utf8')).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    r.error(key, `${file} holds no PEM certificate`);
    return;
  }
  for (const [i, pem] of blocks.entries()) {
    try {
      const ca = new X509Certificate(pem);
      if (new Date(ca.validTo) < now) r.warn(key, `certificate ${i + 1} in ${file} expired on ${ca.validTo}`);
    } catch (err) {
      r.error(key, `certificate ${i + 1} in ${file} does not parse (${errorMessage(err)})`);
    }
  }
}

/** The state directory exists and is writable, or its nearest existing ancestor lets us create it. */
async function checkStateDirectory(r: Report, dir: string): Promise<void> {
  const key = 'stateDirectory';
  let probe = dir;
  for (;;) {
    const st = await fsp.stat(probe).catch(() => undefined);
    if (st !== undefined) {
      if (!st.isDirectory()) r.error(key, `${probe} is not a directory`);
      else if (!(await fsp.access(probe, constants.W_OK | constants.X_OK).then(() => true, () => false))) {
        r.error(key, probe === dir ? `${dir} is not writable by this user` : `${dir} does not exist and ${probe} is not writable, so it cannot be created`);
      } else if (probe === dir && (st.mode & 0o022) !== 0) {
        r.warn(key, `${dir} is writable by group or others (mode ${mode(st)}); the journal decides what runs: chmod 700 ${dir}`);
      }
      return;
    }
    const parent = path.dirname(probe);
    if (parent === probe) return;
    probe = parent;
  }
}

/** Code in a handler directory runs as the agent (often root): nobody else may be able to add any. */
async function checkHandlerDirectories(r: Report, cfg: AgentConfig): Promise<void> {
  const dirs = [
    ...cfg.handlers.directories.map((d, i) => [`handlers.directories[${i}]`, d] as const),
    ...cfg.handlers.scriptDirectories.map((d, i) => [`handlers.scriptDirectories[${i}]`, d] as const),
  ];
  for (const [key, dir] of dirs) {
    const st = await fsp.stat(dir).catch((err: unknown) => describeFsError(err));
    if (typeof st === 'string') r.error(key, `${dir} ${st}`);
    else if (!st.isDirectory()) r.error(key, `${dir} is not a directory`);
    else if ((st.mode & 0o022) !== 0) {
      r.error(key, `${dir} is writable by group or others (mode ${mode(st)}): anyone able to write there can run code as the agent; run: chmod go-w ${dir}`);
    } else if (typeof process.getuid === 'function' && st.uid !== 0 && st.uid !== process.getuid()) {
      r.warn(key, `${dir} is owned by uid ${st.uid}, neither root nor the agent's user: that user can run code as the agent`);
    }
  }
}

function procCmdline(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1');
  } catch {
    return ''; // the process ended, or its cmdline is not ours to read
  }
}

async function greengrassPresent(opts: CheckOptions): Promise<string | undefined> {
  const root = opts.greengrassRoot ?? '/greengrass/v2';
  if (await fsp.stat(root).then(() => true, () => false)) return `a Greengrass installation at ${root}`;
  if (opts.greengrassRoot !== undefined) return undefined;
  // A nucleus installed elsewhere: look for its process (Greengrass.jar on the java command line).
  // Synchronous on purpose: `run` checks this before every start, and one awaited read per process
  // cost ~0.15 ms each (45 ms with 300 processes); a plain read of a procfs file is a few µs.
  const pids = await fsp.readdir('/proc').catch(() => [] as string[]);
  for (const pid of pids.filter((p) => /^\d+$/.test(p))) {
    if (procCmdline(pid).includes('Greengrass.jar')) return `a running Greengrass nucleus (pid ${pid})`;
  }
  return undefined;
}

async function checkGreengrass(r: Report, cfg: AgentConfig, opts: CheckOptions): Promise<void> {
  if (cfg.jobs.namespaces.includes(GREENGRASS_DEPLOYMENT_NAMESPACE)) {
    r.warn(
      'jobs.namespaces',
      `"${GREENGRASS_DEPLOYMENT_NAMESPACE}" holds Greengrass deployments; the nucleus works those jobs, and this agent would compete with it`,
    );
  }
  if (cfg.mqtt.clientId !== cfg.thingName) return;
  const found = await greengrassPresent(opts);
  if (found !== undefined) {
    r.error(
      'mqtt.clientId',
      `"${cfg.mqtt.clientId}" equals the thing name, and ${found} connects with that client id: each connection would knock the other off. ` +
        `Use "${cfg.thingName}-jobs" (the thing's IoT policy must allow iot:Connect for it)`,
    );
  }
}

/**
 * A client id every device would share. AWS IoT keeps one connection per client id, so devices that
 * share one knock each other off at every connect (docs/INSTALL.md §13). With `provisioning` the
 * configuration is the fleet's, so any fixed client id is shared; without it, an id that does not
 * name the thing is shared as soon as the file is copied to another device.
 */
function checkSharedClientId(r: Report, cfg: AgentConfig): void {
  const id = cfg.mqtt.clientId;
  if (cfg.provisioning !== undefined) {
    if (id === '' || id === cfg.thingName) return;
    r.warn(
      'mqtt.clientId',
      `"${id}" is a fixed client id in a configuration for fleet provisioning: every device provisioned with it connects as "${id}", ` +
        'and AWS IoT closes one connection whenever another connects with the same id. Leave mqtt.clientId out (each device then uses its thing name)',
    );
    return;
  }
  if (cfg.thingName === '' || id.includes(cfg.thingName)) return;
  r.warn(
    'mqtt.clientId',
    `"${id}" does not contain the thing name "${cfg.thingName}": every device given this configuration would connect with the same client id, ` +
      'and AWS IoT closes one connection whenever another connects with the same id. Use the thing name, or "{thing name}-jobs" next to Greengrass',
  );
}

async function checkPkcs11(r: Report, cfg: AgentConfig, opts: CheckOptions): Promise<void> {
  const p11 = cfg.pkcs11;
  if (p11 === undefined) return;
  const env = opts.env ?? process.env;
  // A bare name is resolved by the dynamic loader; the probe below tries to load it either way.
  const libraryOk = !p11.library.includes('/') || (await readableFile(r, 'pkcs11.library', p11.library)) !== undefined;
  let pin: string | undefined;
  if (p11.pinFile !== undefined) {
    const text = await secretFile(r, 'pkcs11.pinFile', p11.pinFile);
    if (text !== undefined && text.trim() === '') r.error('pkcs11.pinFile', `${p11.pinFile} is empty`);
    else pin = text?.split(/\r?\n/)[0];
  }
  if (p11.pinEnv !== undefined) {
    pin = env[p11.pinEnv];
    if ((pin ?? '') === '') r.warn('pkcs11.pinEnv', `${p11.pinEnv} is not set here; the service's environment must set it`);
  }
  if (!opts.pkcs11Probe || !libraryOk || pin === undefined || pin === '') return;
  const { library, tokenLabel, slotId } = p11;
  // After a rotation the certificate belongs to the token key the rotation made (identity/key-label).
  const keyLabel = cfg.provisioning ? activeKeyLabel(identityPaths(cfg.stateDirectory), p11.keyLabel, (f) => readFileSync(f, 'utf8')) : p11.keyLabel;
  const probe = { library, keyLabel, pin, certificateFile: cfg.tls.certificateFile };
  try {
    await opts.pkcs11Probe({ ...probe, ...(tokenLabel !== undefined ? { tokenLabel } : {}), ...(slotId !== undefined ? { slotId } : {}) });
  } catch (err) {
    r.error('pkcs11', errorMessage(err));
  }
}

/** The proxy's password file is a secret like the key file; its CA must be readable. */
async function checkProxy(r: Report, cfg: AgentConfig): Promise<void> {
  const p = cfg.proxy;
  if (p === undefined || p === false) return;
  if (p.passwordFile !== undefined) {
    const text = await secretFile(r, 'proxy.passwordFile', p.passwordFile);
    if (text !== undefined && text.split(/\r?\n/)[0] === '') r.error('proxy.passwordFile', `${p.passwordFile}: the first line (the password) is empty`);
  }
  if (p.caFile !== undefined && (await readableFile(r, 'proxy.caFile', p.caFile))) {
    if (!/-----BEGIN CERTIFICATE-----/.test(await fsp.readFile(p.caFile, 'utf8'))) r.error('proxy.caFile', `${p.caFile} holds no PEM certificate`);
  }
  if (p.caFile !== undefined && !p.url.startsWith('https:')) r.warn('proxy.caFile', `only used for an https:// proxy, not ${p.url.split(':')[0] ?? ''}://`);
  if (/^socks5h?:/.test(p.url) && cfg.mqtt.transport === 'aws-crt') {
    r.error('proxy.url', 'mqtt.transport "aws-crt" cannot use a SOCKS5 proxy for MQTT (aws-crt tunnels through HTTP proxies only): use an http:// or https:// proxy, or mqtt.transport "mqtt"');
  }
}

/** The trust store decides what runs as the agent: nobody else may be able to change it. */
async function checkTrust(r: Report, cfg: AgentConfig, opts: CheckOptions): Promise<void> {
  const t = cfg.trust;
  if (t === undefined) return;
  if (t.mode === 'audit') r.warn('trust.mode', 'audit: jobs whose signature checks fail still run (the verdict is only reported)');
  const key = 'trust.storeFile';
  const st = await readableFile(r, key, t.storeFile);
  if (st === undefined) return;
  if ((st.mode & 0o022) !== 0) {
    r.error(key, `${t.storeFile} is writable by group or others (mode ${mode(st)}): whoever can write it decides which jobs run; run: chmod go-w ${t.storeFile}`);
  } else if (typeof process.getuid === 'function' && st.uid !== 0 && st.uid !== process.getuid()) {
    r.warn(key, `${t.storeFile} is owned by uid ${st.uid}, neither root nor the agent's user: that user decides which jobs run`);
  }
  if (opts.trustProbe === undefined) return;
  try {
    opts.trustProbe(await fsp.readFile(t.storeFile, 'utf8'));
  } catch (err) {
    r.error(key, errorMessage(err));
  }
}

function checkConnection(r: Report, cfg: AgentConfig): void {
  if (cfg.mqtt.port === 443 && !cfg.mqtt.alpn) r.warn('mqtt.alpn', 'port 443 needs alpn: true for MQTT with a client certificate (ALPN x-amzn-mqtt-ca)');
  if (cfg.mqtt.port !== 443 && cfg.mqtt.alpn) r.warn('mqtt.alpn', `ALPN x-amzn-mqtt-ca is meant for port 443, not ${cfg.mqtt.port}`);
}

/** The claim certificate and key, and whether this device already has its own identity. */
async function checkProvisioning(r: Report, cfg: AgentConfig, now: Date): Promise<boolean> {
  const p = cfg.provisioning;
  if (p === undefined) return true;
  const certKey = 'provisioning.claim.certificateFile';
  const keyKey = 'provisioning.claim.privateKeyFile';
  const certPem = (await readableFile(r, certKey, p.claim.certificateFile)) ? await fsp.readFile(p.claim.certificateFile, 'utf8') : undefined;
  const keyPem = await secretFile(r, keyKey, p.claim.privateKeyFile);
  let certOk = certPem !== undefined;
  if (certPem !== undefined) {
    try {
      checkValidity(r, certKey, new X509Certificate(certPem), now);
    } catch (err) {
      r.error(certKey, `${p.claim.certificateFile} is not a PEM certificate (${errorMessage(err)})`);
      certOk = false;
    }
  }
  if (certOk && keyPem !== undefined && !safeMatch(certPem ?? '', keyPem)) {
    r.error(keyKey, `${p.claim.privateKeyFile} is not the key of the claim certificate ${p.claim.certificateFile}`);
  }
  const identity = readIdentitySync(identityPaths(cfg.stateDirectory), (f) => readFileSync(f, 'utf8'));
  if (identity === undefined) {
    const create = p.method === 'csr' ? '$aws/certificates/create-from-csr/*' : '$aws/certificates/create/*';
    r.warn(
      'provisioning',
      `not provisioned yet: the agent will register a thing with template "${p.templateName}" (it must exist and be enabled). ` +
        `The claim certificate's IoT policy must allow iot:Connect, iot:Publish and iot:Receive on topic/${create} and ` +
        `topic/$aws/provisioning-templates/${p.templateName}/provision/*, and iot:Subscribe on the same as topicfilter/`,
    );
    return false;
  }
  if (cfg.thingName !== identity.thingName) r.warn('thingName', `the provisioned thing is "${identity.thingName}"; that name is used`);
  return true;
}

function safeMatch(certPem: string, keyPem: string): boolean {
  try {
    return certMatchesKey(certPem, keyPem);
  } catch {
    return false;
  }
}

export async function checkConfig(cfg: AgentConfig, opts: CheckOptions = {}): Promise<CheckResult> {
  const r = new Report();
  const now = opts.now ?? new Date();
  checkConnection(r, cfg);
  const hasIdentity = await checkProvisioning(r, cfg, now);
  if (hasIdentity) await checkTls(r, cfg, now);
  else await checkCaBundle(r, cfg.tls.rootCaFile, now);
  await checkStateDirectory(r, cfg.stateDirectory);
  await checkHandlerDirectories(r, cfg);
  await checkGreengrass(r, cfg, opts);
  checkSharedClientId(r, cfg);
  if (hasIdentity) await checkPkcs11(r, cfg, opts);
  await checkProxy(r, cfg);
  await checkTrust(r, cfg, opts);
  return { errors: r.errors, warnings: r.warnings };
}
