/**
 * `run --config FILE` on a sample of randomly broken configuration files: the CLI exits 2 and its
 * message names the broken key (the in-process property over many more is test/unit/fuzz-config).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';

const BIN = path.join(__dirname, '..', '..', 'bin', 'iot-jobs-agent.js');
const VALID = {
  thingName: 'gateway-42',
  mqtt: { endpoint: '127.0.0.1', port: 8883, keepAliveSeconds: 60 },
  tls: { certificateFile: 'certs/device.pem.crt', privateKeyFile: 'certs/private.pem.key', rootCaFile: 'certs/ca.pem' },
  jobs: { namespaces: ['fleet'], dataPlaneEndpoint: 'https://127.0.0.1:8443', concurrency: 1, requestTimeoutSeconds: 10 },
  handlers: { directories: ['handlers'], defaultTimeoutSeconds: 3600 },
  stateDirectory: 'state',
  log: { level: 'info' },
};
/** Values each key can never take, so every mutation must be refused. */
const BAD: [string, unknown[]][] = [
  ['thingName', [5, '', 'a b', null]],
  ['mqtt.port', ['eighty', 0, 70000, 1.5]],
  ['mqtt.keepAliveSeconds', [5, -1, 'x']],
  ['mqtt.protocolVersion', [3, '5']],
  ['tls', [null, 'x', []]],
  ['tls.rootCaFile', [7, null]],
  ['jobs.concurrency', [0, 65, 'two']],
  ['jobs.namespaces', ['fleet', [5]]],
  ['jobs.requestTimeoutSeconds', [0, 601]],
  ['handlers.directories', ['x', [1]]],
  ['stateDirectory', [3, false]],
  ['log.level', ['loud', 1]],
  ['surprise', [true]],
  ['mqtt.surprise', [1]],
];

function withValue(p: string, v: unknown): Record<string, unknown> {
  const copy = structuredClone(VALID) as Record<string, unknown>;
  const keys = p.split('.');
  const last = keys.pop() ?? '';
  const parent = keys.reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, copy);
  parent[last] = v;
  return copy;
}

describe('fuzz: run --config with broken files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fuzz-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 2 naming the key, for 20 sampled mutations', () => {
    const arb = fc.constantFrom(...BAD).chain(([p, vs]) => fc.constantFrom(...vs).map((v) => [p, v] as const));
    const sample = fc.sample(arb, { numRuns: 20, seed: 4711 });
    for (const [i, [p, v]] of sample.entries()) {
      const file = path.join(dir, `c${i}.json`);
      writeFileSync(file, JSON.stringify(withValue(p, v)));
      const r = spawnSync(process.execPath, [BIN, 'run', '--config', file], { encoding: 'utf8', timeout: 20_000 });
      const out = `${r.stdout}${r.stderr}`;
      expect({ p, v, code: r.status }).toEqual({ p, v, code: 2 });
      expect(out).toContain(p);
    }
  });

  it('exits 2 with the position for a file that is not JSON', () => {
    const file = path.join(dir, 'broken.json');
    writeFileSync(file, '{"thingName": "x",\n  "mqtt": {');
    const r = spawnSync(process.execPath, [BIN, 'run', '--config', file], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(`${r.stdout}${r.stderr}`).toMatch(/line \d+/);
  });
});
