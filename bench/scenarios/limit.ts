/**
 * (e) What the hardware allows, measured in the same run: an MQTT round trip through the same broker
 * (mqtt.js, QoS 1, publish → own subscription, TCP_NODELAY), write+fsync latency of small appends in
 * the directory that holds the agents' state, and a floor client — the least Node process that can
 * ask the Jobs service anything (mqtt.js, connect, publish GetPendingJobExecutions) — for start-up
 * and idle-memory floors.
 */
import { closeSync, fdatasyncSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'mqtt';
import { Proc, repoRoot } from '../support/proc';
import type { Stack } from '../support/stack';
import { quantile, wallMs } from '../support/stats';

export async function mqttRoundTripP50(stack: Stack, thing: string, count: number): Promise<number> {
  const certs = stack.pki.things[thing];
  if (!certs) throw new Error(`no certificate for ${thing}`);
  const [cert, key, ca] = await Promise.all([readFile(certs.certificateFile), readFile(certs.privateKeyFile), readFile(stack.pki.caFile)]);
  const client = connect(`mqtts://127.0.0.1:${stack.broker.port}`, { clientId: thing, cert, key, ca, rejectUnauthorized: true, reconnectPeriod: 0 });
  try {
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    (client.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
    const topic = `$aws/things/${thing}/bench/echo`;
    await client.subscribeAsync(topic, { qos: 1 });
    let arrived: (() => void) | undefined;
    client.on('message', () => arrived?.());
    const rtts: number[] = [];
    for (let i = 0; i < count; i++) {
      const got = new Promise<void>((resolve) => (arrived = resolve));
      const t0 = wallMs();
      client.publish(topic, `{"i":${i}}`, { qos: 1 });
      await got;
      rtts.push(wallMs() - t0);
    }
    return quantile(rtts, 0.5);
  } finally {
    await client.endAsync(true);
  }
}

/** p50 of write(64 bytes) + fsync (or fdatasync) over `count` appends to a new file in `dir`. */
export async function syncP50(dir: string, count: number, data: boolean): Promise<number> {
  const tmp = await mkdtemp(join(dir, 'fsync-'));
  const fd = openSync(join(tmp, 'journal'), 'a');
  const line = Buffer.from(`${JSON.stringify({ t: 'bench', pad: 'x'.repeat(40) })}\n`);
  const lat: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      writeSync(fd, line);
      if (data) fdatasyncSync(fd);
      else fsyncSync(fd);
      lat.push(performance.now() - t0);
    }
  } finally {
    closeSync(fd);
    await rm(tmp, { recursive: true, force: true });
  }
  return quantile(lat, 0.5);
}

const FLOOR_CLIENT = `'use strict';
const fs = require('node:fs');
const { connect } = require(process.env.BENCH_MQTT_MODULE);
const o = JSON.parse(process.argv[2]);
const c = connect('mqtts://127.0.0.1:' + o.port, { clientId: o.thing, cert: fs.readFileSync(o.cert), key: fs.readFileSync(o.key), ca: fs.readFileSync(o.ca), keepalive: 30 });
c.on('connect', () => {
  c.subscribe('$aws/things/' + o.thing + '/jobs/notify-next', { qos: 1 });
  c.publish('$aws/things/' + o.thing + '/jobs/get', '{}', { qos: 1 }, () => process.stdout.write('{"msg":"connected"}\\n'));
});
`;

/**
 * Starts the floor client for `thing`: a bare mqtt.js process that connects, subscribes to
 * notify-next, sends one GetPendingJobExecutions and then idles connected.
 */
export async function startFloorClient(stack: Stack, thing: string, dir: string): Promise<Proc> {
  const certs = stack.pki.things[thing];
  if (!certs) throw new Error(`no certificate for ${thing}`);
  const file = join(dir, 'floor-client.js');
  await writeFile(file, FLOOR_CLIENT);
  const args = { port: stack.broker.port, thing, cert: certs.certificateFile, key: certs.privateKeyFile, ca: stack.pki.caFile };
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', BENCH_MQTT_MODULE: require.resolve('mqtt', { paths: [repoRoot()] }) };
  return new Proc(process.execPath, [file, JSON.stringify(args)], env);
}
