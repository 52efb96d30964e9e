/**
 * Random mutations of a valid configuration file: loadConfig either accepts the result or throws a
 * ConfigError whose problems name the mutated key — never another error, never a silent default.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { loadConfig } from '../../src/config/load';
import { ConfigError } from '../../src/lib/errors';

const VALID = {
  thingName: 'gateway-42',
  mqtt: { endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com', port: 8883, keepAliveSeconds: 60, protocolVersion: 4, alpn: false },
  tls: { certificateFile: 'certs/device.pem.crt', privateKeyFile: 'certs/private.pem.key', rootCaFile: '/etc/ssl/AmazonRootCA1.pem' },
  jobs: { namespaces: ['fleet'], dataPlaneEndpoint: 'https://data.jobs.iot.eu-west-1.amazonaws.com', concurrency: 1, safetyPollSeconds: 900, requestTimeoutSeconds: 10, drainGraceSeconds: 30, outboxLimit: 1000, progressIntervalSeconds: 5 },
  handlers: { directories: ['/opt/handlers'], defaultTimeoutSeconds: 3600 },
  stateDirectory: '/var/lib/iot-jobs-agent',
  log: { level: 'info' },
};

type Obj = Record<string, unknown>;
function leaves(o: Obj, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? [`${prefix}${k}`, ...leaves(v as Obj, `${prefix}${k}.`)] : [`${prefix}${k}`]));
}
const PATHS = leaves(VALID);

type Mutation = { kind: 'set'; path: string; value: unknown } | { kind: 'delete'; path: string } | { kind: 'add'; path: string; value: unknown };

const badValue = fc.oneof(fc.string({ maxLength: 8 }), fc.integer({ min: -100_000, max: 100_000 }), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }));
const parents = ['', ...PATHS.filter((p) => typeof get(VALID, p) === 'object' && !Array.isArray(get(VALID, p)))];
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(...PATHS), value: badValue }),
  fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...PATHS) }),
  fc.record({ kind: fc.constant('add' as const), path: fc.tuple(fc.constantFrom(...parents), fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9]{0,9}$/)).map(([p, k]) => (p ? `${p}.zz${k}` : `zz${k}`)), value: badValue }),
);

function get(o: unknown, p: string): unknown {
  return p.split('.').reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? (v as Obj)[k] : undefined), o);
}

function mutate(m: Mutation): Obj {
  const copy = structuredClone(VALID) as Obj;
  const keys = m.path.split('.');
  const last = keys.pop() ?? '';
  const parent = keys.reduce<Obj>((v, k) => v[k] as Obj, copy);
  if (m.kind === 'delete') delete parent[last];
  else parent[last] = m.value;
  return copy;
}

/** The key a problem must name: the path itself, or (for a deleted key) the key or its section. */
function named(m: Mutation, text: string): boolean {
  return text.includes(m.path) || (m.kind === 'delete' && text.includes(m.path.split('.')[0] ?? m.path));
}

describe('fuzz: configuration files', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fuzz-cfg-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the valid base loads', () => {
    const file = path.join(dir, 'base.json');
    writeFileSync(file, JSON.stringify(VALID));
    expect(loadConfig({ file }).thingName).toBe('gateway-42');
  });

  it('a mutated file loads or fails with a ConfigError naming the mutated key', () => {
    let rejected = 0;
    fc.assert(
      fc.property(mutationArb, (m) => {
        const file = path.join(dir, 'agent.json');
        writeFileSync(file, JSON.stringify(mutate(m)));
        try {
          const cfg = loadConfig({ file });
          // Accepted: the value must have been kept as given, not coerced (defaults only fill deletions).
          if (m.kind === 'set' && typeof m.value !== 'object') expect(get(cfg, m.path)).toEqual(m.kind === 'set' && typeof m.value === 'string' && /File|Directory|directories/.test(m.path) ? expect.any(String) : m.value);
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          const text = (err as ConfigError).problems.join('\n');
          if (!named(m, text)) throw new Error(`${JSON.stringify(m)} gave problems that do not name the key:\n${text}`);
          rejected++;
        }
      }),
      { numRuns: 400 },
    );
    expect(rejected).toBeGreaterThan(60);
  });
});
