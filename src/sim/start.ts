/**
 * `startJobsService`: the whole local Jobs service — PKI under the state directory, the state
 * machine in real time, an MQTT front (embedded aedes or an external broker), the HTTPS data plane
 * and the HTTP control plane — and `endpoints.json` describing how to reach it.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../lib/clock';
import { atomicWriteFile } from '../lib/fsutil';
import { silentLogger } from '../lib/log';
import type { Logger } from '../lib/log';
import { startControlPlane } from './fronts/http-control-plane';
import { startDataPlane } from './fronts/http-data-plane';
import { startEmbeddedBroker } from './fronts/mqtt-embedded';
import { startObjectFront } from './fronts/s3-objects';
import type { ObjectFront } from './fronts/s3-objects';
import type { RunningFront } from './fronts/mqtt-embedded';
import { joinExternalBroker } from './fronts/mqtt-external';
import { CrlKeeper } from './fronts/broker-crl';
import type { BrokerDoor, BrokerReload } from './fronts/broker-crl';
import { ensureSimPki } from './registry/pki-store';
import type { CertFiles, SimPki } from './registry/pki-store';
import { IdentityService } from './identity';
import { SimRuntime } from './runtime';
import type { SimOptions } from './types';

export interface StartJobsServiceOptions {
  stateDir: string;
  things?: string[];
  host?: string;
  mqttPort?: number;
  httpsPort?: number;
  controlPort?: number;
  /** Serve S3 objects from this directory (`DIR/BUCKET/KEY`); presigned URLs then point at the sim. */
  objectsDir?: string;
  objectsPort?: number;
  /** Join this broker (`mqtts://host:port`) instead of embedding one. */
  broker?: string;
  brokerCert?: string;
  brokerKey?: string;
  brokerCa?: string;
  /** Where the CRL of certificates that may not connect is kept (default DIR/crl.pem). */
  crlFile?: string;
  /** How to make the external broker reread the CRL (mosquitto: SIGHUP); then the sim proves it holds. */
  brokerReload?: BrokerReload;
  /** Drop a live connection whose certificate stops being usable by taking over its client id (the thing name). */
  brokerTakeover?: boolean;
  /** Issue every certificate from this CA instead of generating one. */
  caCert?: string;
  caKey?: string;
  options?: Partial<SimOptions>;
  timeScale?: number;
  /** The service's clock (tests: a ManualClock); default: wall time, sped up by timeScale. */
  clock?: Clock;
  log?: Logger;
}

export interface Endpoints {
  mqtt: string;
  /**
   * How provisioning answers reach a device: only the requesting connection (the embedded broker, as
   * on AWS), or every subscriber of the answer topic (an external broker cannot do better).
   */
  provisioningDelivery: 'requester-only' | 'by-subscription';
  dataPlane: string;
  controlPlane: string;
  caFile: string;
  /** CRL (PEM) listing every certificate of the CA that may not connect; an external broker's `crlfile`. */
  crlFile: string;
  things: Record<string, CertFiles>;
  /** With `objectsDir`: the S3-like object front (`https://127.0.0.1:P`) presigned URLs point at. */
  objects?: string;
}

export interface JobsServiceHandle {
  endpoints: Endpoints;
  endpointsFile: string;
  runtime: SimRuntime;
  pki: SimPki;
  /** Certificates, provisioning templates, the provisioning API. */
  identity: IdentityService;
  /** With `objectsDir`: the object front (tests cut responses short through it). */
  objects?: ObjectFront;
  close(): Promise<void>;
}

export async function startJobsService(o: StartJobsServiceOptions): Promise<JobsServiceHandle> {
  const log = o.log ?? silentLogger();
  const host = o.host ?? '127.0.0.1';
  const things = o.things ?? ['thing1'];
  await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
  const pki = await ensureSimPki(o.stateDir, things, { caCertFile: o.caCert, caKeyFile: o.caKey });
  const runtime = new SimRuntime({ options: o.options, timeScale: o.timeScale, log, ...(o.clock ? { clock: o.clock } : {}) });
  for (const t of things) runtime.service.createThing(t);
  const tls = { caPem: pki.ca.certPem, certPem: pki.server.certPem, keyPem: pki.server.keyPem };
  const identity = new IdentityService({
    service: runtime.service,
    clock: runtime.clock,
    pki,
    publish: (p) => runtime.publish(p),
    onRefused: (r) => log.info(r, 'provisioning request refused'),
  });
  // The sim's own certificate per thing is known and ACTIVE from the start, as if registered.
  for (const [thing, files] of Object.entries(pki.things)) identity.registerThingCertificate(await readFile(files.certificateFile, 'utf8'), thing);
  // Only a registered, ACTIVE certificate attached to a thing speaks for that thing.
  const thingOf = (cert: { raw?: Buffer }): string | undefined => (cert.raw ? identity.identify(cert.raw)?.thing : undefined);
  const crlFile = o.crlFile ?? join(o.stateDir, 'crl.pem');
  const brokerFiles = { certificateFile: o.brokerCert ?? pki.service.certificateFile, privateKeyFile: o.brokerKey ?? pki.service.privateKeyFile, caFile: o.brokerCa ?? pki.caFile };
  const crl = new CrlKeeper({
    file: crlFile,
    ca: pki.ca,
    certs: identity.certs,
    log,
    ...(o.brokerReload ? { reload: o.brokerReload } : {}),
    ...(o.broker ? { broker: await brokerDoor(o.broker, brokerFiles), takeover: o.brokerTakeover === true } : {}),
  });
  identity.addSettler(() => crl.settled());
  const fronts: RunningFront[] = [{ port: 0, close: async () => crl.close() }];
  try {
    let mqttUrl: string;
    if (o.broker) {
      // Written before joining, so a broker started after the sim finds its crlfile.
      await crl.prepare();
      const ext = await joinExternalBroker({ runtime, url: o.broker, ...brokerFiles, log, identity });
      fronts.push(ext);
      mqttUrl = o.broker;
    } else {
      const mqtt = await startEmbeddedBroker({ runtime, host, port: o.mqttPort ?? 0, tls, log, identity });
      fronts.push(mqtt);
      mqttUrl = `mqtts://${host}:${mqtt.port}`;
    }
    const data = await startDataPlane({ service: runtime.service, host, port: o.httpsPort ?? 0, tls, log, thingOf });
    fronts.push(data);
    const control = await startControlPlane({
      service: runtime.service,
      host,
      port: o.controlPort ?? 0,
      identity,
      clock: runtime,
      log,
    });
    fronts.push(control);
    await crl.start();
    let objects: ObjectFront | undefined;
    if (o.objectsDir !== undefined) {
      objects = await startObjectFront({ dir: o.objectsDir, host, port: o.objectsPort ?? 0, tls, now: () => runtime.clock.now(), log });
      fronts.push(objects);
      runtime.service.serveObjectsAt(objects.objects);
    }
    const endpoints: Endpoints = {
      mqtt: mqttUrl,
      provisioningDelivery: o.broker ? 'by-subscription' : 'requester-only',
      dataPlane: `https://${host}:${data.port}`,
      controlPlane: `http://${host}:${control.port}`,
      caFile: pki.caFile,
      crlFile,
      things: pki.things,
      ...(objects ? { objects: objects.objects.origin } : {}),
    };
    const endpointsFile = join(o.stateDir, 'endpoints.json');
    await atomicWriteFile(endpointsFile, `${JSON.stringify(endpoints, null, 2)}\n`, 0o644);
    let closed = false;
    return {
      endpoints,
      endpointsFile,
      runtime,
      pki,
      identity,
      ...(objects ? { objects } : {}),
      close: async () => {
        if (closed) return;
        closed = true;
        await Promise.allSettled(fronts.map((f) => f.close()));
        runtime.close();
      },
    };
  } catch (err) {
    await Promise.allSettled(fronts.map((f) => f.close()));
    runtime.close();
    throw err;
  }
}

async function brokerDoor(url: string, f: { certificateFile: string; privateKeyFile: string; caFile: string }): Promise<BrokerDoor> {
  const [cert, key, ca] = await Promise.all([readFile(f.certificateFile), readFile(f.privateKeyFile), readFile(f.caFile)]);
  return { url, cert, key, ca };
}
