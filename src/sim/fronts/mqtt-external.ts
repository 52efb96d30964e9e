/**
 * The sim joining an external broker (mosquitto, EMQX, …) as a privileged client: it subscribes to
 * every thing's Jobs request topics and publishes responses and notifications on the broker. A stock
 * broker delivers by subscription only, so this is the "low-fidelity" mode of docs/PROTOCOL.md §1.2: a device
 * must subscribe to its response topics (ours always does), and the broker's ACL — not the sim —
 * keeps one thing from reading another's topics.
 *
 * The provisioning API works here too, with two differences from AWS that a stock broker imposes:
 * an answer goes to every client subscribed to its topic (devices sharing a claim certificate that
 * are enrolling at the same moment see each other's answers), and the sim cannot tell which
 * certificate a request came on. `endpoints.json` says so (`provisioningDelivery`).
 *
 * Lifecycle events: the sim reads mosquitto's own log from `$SYS/broker/log/N` and `…/E` (the broker
 * needs `log_dest topic`, `log_type notice`, `log_type error`, `connection_messages true`, and an ACL
 * letting the sim read `$SYS/broker/log/#`) and publishes AWS's `$aws/events/presence/…` events
 * from it (presence-log.ts). Without that configuration there are none.
 */
import { readFile } from 'node:fs/promises';
import { connect } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { parseRequestTopic } from '../../jobs/topics';
import type { Logger } from '../../lib/log';
import type { RunningFront } from './mqtt-embedded';
import type { SimRuntime } from '../runtime';
import type { Publication } from '../types';
import type { IdentityService } from '../identity';
import { parseProvisioningTopic } from '../registry/prov-topics';
import { encodePublication } from './payload';
import { BrokerLogLifecycle, MOSQUITTO_LOG_TOPICS } from './presence-log';

export interface ExternalBrokerOptions {
  runtime: SimRuntime;
  url: string;
  certificateFile: string;
  privateKeyFile: string;
  caFile: string;
  log: Logger;
  clientId?: string;
  /** The registry: the provisioning API. */
  identity?: IdentityService;
}

const REQUESTS = '$aws/things/+/jobs/#';
const PROVISIONING = ['$aws/certificates/create/+', '$aws/certificates/create-from-csr/+', '$aws/provisioning-templates/+/provision/+'];

function isRequest(topic: string): boolean {
  if (/\/(accepted|rejected)$/.test(topic)) return false; // our own responses coming back
  if (/\/jobs\/(.+\/)?notify[^/]*\/?$/.test(topic)) return false; // our own notifications
  return parseRequestTopic(topic) !== null;
}

function subscriptions(o: ExternalBrokerOptions): string[] {
  return [REQUESTS, ...(o.identity === undefined ? [] : PROVISIONING), ...MOSQUITTO_LOG_TOPICS];
}

export async function joinExternalBroker(o: ExternalBrokerOptions): Promise<RunningFront & { client: MqttClient }> {
  const service = o.runtime.service;
  const clientId = o.clientId ?? `jobs-service-${process.pid}`;
  const client = connect(o.url, {
    clientId,
    cert: await readFile(o.certificateFile),
    key: await readFile(o.privateKeyFile),
    ca: await readFile(o.caFile),
    rejectUnauthorized: true,
    protocolVersion: 4,
    reconnectPeriod: 500,
    connectTimeout: 10_000,
    clean: true,
  });
  client.on('connect', () => {
    // Small request/response messages: never wait for Nagle on loopback.
    (client.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
    client.subscribe(subscriptions(o), { qos: 1 }, (err) => {
      if (err) o.log.error({ err: err.message }, 'jobs service could not subscribe on the broker');
    });
  });
  client.on('error', (err) => o.log.warn({ err: err.message }, 'jobs service broker connection error'));
  const lifecycle = new BrokerLogLifecycle({
    publish: (topic, event) => client.publish(topic, JSON.stringify(event), { qos: 1, retain: false }, () => undefined),
    now: () => o.runtime.now(),
    ignore: (id) => id === clientId,
  });
  client.on('message', (topic, payload) => {
    if (topic.startsWith('$SYS/broker/log/')) return lifecycle.onLogLine(payload.toString('utf8'));
    if (o.identity !== undefined && parseProvisioningTopic(topic) !== null) {
      // No client id or certificate reaches us through a stock broker: answers go by subscription.
      void o.identity.handleMqtt({ clientId: '' }, topic, payload);
      return;
    }
    if (!isRequest(topic)) return;
    try {
      // No client id reaches us through a stock broker; responses go out by subscription.
      service.handleMqtt('', topic, payload);
    } catch (err) {
      o.log.error({ err, topic }, 'jobs service failed on a request');
    }
  });
  const remove = o.runtime.addOutlet({
    deliver(p: Publication): void {
      client.publish(p.topic, encodePublication(p), { qos: 1, retain: false }, (err) => {
        if (err) o.log.warn({ topic: p.topic, err: err.message }, 'jobs service publish failed');
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`could not join broker ${o.url} within 10 s`)), 10_000);
    client.once('connect', () => {
      clearTimeout(t);
      // Wait for the SUBACK so no request published after start-up is missed.
      client.subscribe(subscriptions(o), { qos: 1 }, (err) => (err ? reject(err) : resolve()));
    });
  });
  const port = Number(new URL(o.url).port || 8883);
  return {
    port,
    client,
    close: async () => {
      remove();
      await client.endAsync();
    },
  };
}
