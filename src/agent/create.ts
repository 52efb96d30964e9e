/**
 * Builds an Agent from a validated configuration: transport, Jobs clients (MQTT for the default
 * namespace, HTTPS data plane for the others unless configured otherwise), the durable store, the
 * handler registry and the safe process runner.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { builtinHandlers } from '../../handlers/_builtins';
import { identityPaths } from '../config/identity-paths';
import type { AgentConfig } from '../config/types';
import { createDeviceClientHandler } from '../handlers/device-client';
import { chooseHandler, DEVICE_CLIENT_HANDLER } from '../handlers/document';
import { loadHandlers } from '../handlers/loader';
import { handlerLogger } from '../handlers/logger';
import { handlerOptions } from '../handlers/registry';
import { createProcessRunner } from '../handlers/process';
import type { JobHandler } from '../handlers/api';
import { HttpsJobsClient } from '../jobs/https-client';
import { MqttJobsClient } from '../jobs/mqtt-client';
import type { Logger } from '../lib/log';
import { createDialer, describeProxy, resolveProxy, type Dialer } from '../net';
import { openStateStore } from '../store/file-store';
import { createTransport, readPin } from '../transport';
import type { Transport } from '../transport/types';
import type { StateStore } from '../store/types';
import { Agent } from './agent';
import type { Notifier } from './agent';
import type { CertificateWindow } from './clock-trouble';
import { identityControl } from './identity';
import { mapRegistry } from './registry';
import type { HandlerRegistry } from './registry';
import type * as OpenGateMod from './signed/open';

export interface CreateAgentOptions {
  log: Logger;
  notifier?: Notifier;
  /** Extra handlers (tests, embedding); they win over loaded ones with the same name. */
  handlers?: JobHandler[];
  /** Where pkcs11.pinEnv is looked up (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Load the built-in handlers too (default true). */
  builtins?: boolean;
}

export async function buildRegistry(config: AgentConfig, o: CreateAgentOptions): Promise<{ registry: HandlerRegistry; problems: string[] }> {
  const builtins = o.builtins === false ? [] : builtinHandlers;
  const loaded = await loadHandlers(config.handlers.directories, { log: handlerLogger(o.log), builtins });
  const map = new Map(loaded.handlers);
  for (const h of o.handlers ?? []) map.set(h.name, h);
  // AWS IoT Device Client documents (`steps`, legacy `operation` + script) and managed templates.
  if (!map.has(DEVICE_CLIENT_HANDLER)) {
    map.set(
      DEVICE_CLIENT_HANDLER,
      createDeviceClientHandler({
        scriptDirectories: config.handlers.scriptDirectories,
        handlers: () => map,
        optionsFor: (name) => handlerOptions(config.handlers, name),
      }),
    );
  }
  return { registry: mapRegistry(map, chooseHandler), problems: loaded.problems };
}

/** The device certificate's validity window (undefined when it cannot be read: check-config reports that). */
function certificateWindow(file: string): CertificateWindow | undefined {
  try {
    const c = new X509Certificate(readFileSync(file));
    return { validFrom: c.validFrom, validTo: c.validTo };
  } catch {
    return undefined;
  }
}

/** The way out for everything the agent opens: the `proxy` key, else the environment, else direct. */
export function createNetwork(config: AgentConfig, env: NodeJS.ProcessEnv, log?: Logger): Dialer {
  const proxy = resolveProxy(config.proxy, env);
  if (proxy) log?.info({ proxy: describeProxy(proxy), from: proxy.source, noProxy: proxy.noProxy.entries }, 'connections go through a proxy');
  return createDialer(proxy);
}

export async function createAgent(config: AgentConfig, o: CreateAgentOptions): Promise<Agent> {
  const log = o.log;
  const network = createNetwork(config, o.env ?? process.env, log);
  const m = config.mqtt;
  const p11 = config.pkcs11;
  const transport = createTransport({
    transport: m.transport,
    // The PIN is read here, once, from its file or environment variable; it never reaches a log.
    ...(p11 ? { pkcs11: { library: p11.library, keyLabel: p11.keyLabel, ...keyLabelFileOf(config), pin: readPin(p11, o.env ?? process.env), ...(p11.tokenLabel !== undefined ? { tokenLabel: p11.tokenLabel } : {}), ...(p11.slotId !== undefined ? { slotId: p11.slotId } : {}) } } : {}),
    host: m.endpoint,
    port: m.port,
    clientId: m.clientId,
    protocolVersion: m.protocolVersion,
    alpn: m.alpn,
    keepAliveSeconds: m.keepAliveSeconds,
    takeoverBackoffMs: m.takeoverBackoffSeconds * 1000,
    tls: config.tls,
    operationTimeoutMs: config.jobs.requestTimeoutSeconds * 1000,
    network,
  });
  // The first connection attempt overlaps the rest of the start (the journal's fsyncs and compaction,
  // the handlers, the trust store): on a device's flash those take longer than the TLS handshake. It
  // begins only once the journal's lock is held, so a second agent started on the same state
  // directory fails at the lock without ever taking the first one's client id off the broker.
  let firstConnect: Promise<void> | undefined;
  let store: StateStore | undefined;
  try {
    store = await openStateStore(join(config.stateDirectory, 'journal'), {
      outboxLimit: config.jobs.outboxLimit,
      onWarn: (msg) => log.warn(msg),
      onLocked: () => {
        firstConnect = transport.connect();
        // The agent's connect loop takes this attempt's outcome (and reports a failure) as its first.
        firstConnect.catch(() => undefined);
      },
    });
    return await assemble(config, o, { network, transport, store, ...(firstConnect ? { firstConnect } : {}) });
  } catch (err) {
    // Nothing half-built stays behind: the lock is released and the broker left.
    await store?.close().catch(() => undefined);
    await transport.close().catch(() => undefined);
    throw err;
  }
}

/** The rest of the agent around an open store and a transport that may already be connecting. */
async function assemble(
  config: AgentConfig,
  o: CreateAgentOptions,
  p: { network: Dialer; transport: Transport; store: StateStore; firstConnect?: Promise<void> },
): Promise<Agent> {
  const { log } = o;
  const { network, transport, store } = p;
  const { registry, problems } = await buildRegistry(config, o);
  for (const problem of problems) log.error({ problem }, 'handler not loaded');
  log.info({ handlers: registry.names() }, 'handlers loaded');
  const timeoutMs = config.jobs.requestTimeoutSeconds * 1000;
  const mqttJobs = new MqttJobsClient({
    transport,
    thingName: config.thingName,
    namespaces: config.jobs.namespaces,
    defaultNamespace: config.jobs.defaultNamespace,
    timeoutMs,
    log: log.child({ component: 'jobs' }),
  });
  const httpsNamespaces = config.jobs.namespaces.filter((n) => !config.jobs.mqttNamespaces.includes(n));
  let httpsJobs: HttpsJobsClient | undefined;
  if (httpsNamespaces.length > 0 && config.jobs.dataPlaneEndpoint && config.tls.privateKeyFile) {
    httpsJobs = new HttpsJobsClient({
      endpoint: config.jobs.dataPlaneEndpoint,
      thingName: config.thingName,
      tls: { certificateFile: config.tls.certificateFile, privateKeyFile: config.tls.privateKeyFile, rootCaFile: config.tls.rootCaFile },
      timeoutMs,
      network,
    });
  }
  const exec = createProcessRunner({ allowShell: config.handlers.allowShell, log: handlerLogger(log.child({ component: 'process' })) });
  const certificate = certificateWindow(config.tls.certificateFile);
  const identityFor = config.provisioning ? identityControl({ config, transport, jobs: mqttJobs, log, env: o.env ?? process.env }) : undefined;
  // The signed-document checks load only where `trust` is configured: ~10 ms off every other start.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading is the point
  const gate = config.trust ? await (require('./signed/open') as typeof OpenGateMod).openGate(config, config.trust, log, network) : undefined;
  return new Agent({
    config, log, transport, mqttJobs, ...(httpsJobs ? { httpsJobs } : {}), store, registry, exec, network,
    ...(o.notifier ? { notifier: o.notifier } : {}), ...(certificate ? { certificate } : {}), ...(identityFor ? { identityFor } : {}), ...(gate ? { gate } : {}),
    ...(p.firstConnect ? { firstConnect: p.firstConnect } : {}),
  });
}

/** A provisioned device follows the token key a rotation switched to (identity/key-label). */
function keyLabelFileOf(config: AgentConfig): { keyLabelFile?: string } {
  return config.provisioning ? { keyLabelFile: identityPaths(config.stateDirectory).keyLabel } : {};
}
