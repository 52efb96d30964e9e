/**
 * AWS IoT's lifecycle events on the sim's embedded broker, as a monitoring subscriber sees them
 * (docs/PROTOCOL.md §11.4): `connected` then `disconnected` with CLIENT_INITIATED_DISCONNECT for a
 * client that says goodbye, and DUPLICATE_CLIENTID for the older of two connections with one client
 * id. Real TLS clients with the sim's per-thing certificates.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as mqtt from 'mqtt';
import { certificateId } from '../../src/lib/certs';
import { startJobsService, type JobsServiceHandle } from '../../src/sim/start';
import { watchPresence, type PresenceWatch } from '../support/presence-watch';

let dir: string;
let sim: JobsServiceHandle;
const clients: mqtt.MqttClient[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ija-presence-'));
  sim = await startJobsService({ stateDir: join(dir, 'sim'), things: ['t1'] });
});
afterAll(async () => {
  for (const c of clients) await c.endAsync(true);
  await sim.close();
  await rm(dir, { recursive: true, force: true });
});

async function connect(clientId: string): Promise<mqtt.MqttClient> {
  const files = sim.endpoints.things.t1;
  if (!files) throw new Error('no files for t1');
  const url = new URL(sim.endpoints.mqtt);
  const c = await mqtt.connectAsync({
    protocol: 'mqtts',
    host: url.hostname,
    port: Number(url.port),
    clientId,
    protocolVersion: 4,
    reconnectPeriod: 0,
    cert: readFileSync(files.certificateFile),
    key: readFileSync(files.privateKeyFile),
    ca: readFileSync(sim.endpoints.caFile),
    rejectUnauthorized: true,
  });
  clients.push(c);
  return c;
}

/** A subscriber to every lifecycle event; `next` resolves with the first event (seen or to come) that matches. */
async function watch(watcherId: string): Promise<PresenceWatch> {
  return watchPresence(await connect(watcherId));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('lifecycle events (embedded broker)', () => {
  it('connected, then disconnected with CLIENT_INITIATED_DISCONNECT, with the fields AWS documents', async () => {
    const events = await watch('watcher-1');
    const principal = certificateId(readFileSync(sim.endpoints.things.t1!.certificateFile, 'utf8'));
    const before = Date.now();
    const device = await connect('dev-bye');
    const up = await events.next((e) => e.topic === '$aws/events/presence/connected/dev-bye');
    expect(up.body).toEqual({
      clientId: 'dev-bye',
      timestamp: expect.any(Number),
      eventType: 'connected',
      sessionIdentifier: expect.stringMatching(UUID),
      principalIdentifier: principal,
      ipAddress: '127.0.0.1',
      versionNumber: 0,
    });
    expect(up.body.timestamp).toBeGreaterThanOrEqual(before - 1000);

    await device.endAsync();
    const down = await events.next((e) => e.topic === '$aws/events/presence/disconnected/dev-bye');
    expect(down.body).toEqual({
      clientId: 'dev-bye',
      timestamp: expect.any(Number),
      eventType: 'disconnected',
      sessionIdentifier: up.body.sessionIdentifier,
      principalIdentifier: principal,
      clientInitiatedDisconnect: true,
      disconnectReason: 'CLIENT_INITIATED_DISCONNECT',
      versionNumber: 0,
    });
    expect(down.body.timestamp).toBeGreaterThanOrEqual(up.body.timestamp as number);
  });

  it('a second client with the same id closes the first: DUPLICATE_CLIENTID for the older session', async () => {
    const events = await watch('watcher-2');
    const first = await connect('dev-clone');
    const firstUp = await events.next((e) => e.topic === '$aws/events/presence/connected/dev-clone' && e.body.versionNumber === 0);
    const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()));

    await connect('dev-clone');
    const secondUp = await events.next((e) => e.topic === '$aws/events/presence/connected/dev-clone' && e.body.versionNumber === 1);
    expect(secondUp.body.sessionIdentifier).not.toBe(firstUp.body.sessionIdentifier);
    const down = await events.next((e) => e.topic === '$aws/events/presence/disconnected/dev-clone');
    expect(down.body).toMatchObject({
      clientId: 'dev-clone',
      eventType: 'disconnected',
      sessionIdentifier: firstUp.body.sessionIdentifier,
      clientInitiatedDisconnect: false,
      disconnectReason: 'DUPLICATE_CLIENTID',
      versionNumber: 0,
    });
    await firstClosed;
  });
});
