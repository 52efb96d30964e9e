import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../src/config/load';
import { ConfigError } from '../../src/lib/errors';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const minimal = {
  thingName: 'gateway-42',
  mqtt: { endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com' },
  tls: { certificateFile: 'certs/device.pem.crt', privateKeyFile: 'certs/private.pem.key', rootCaFile: '/etc/ssl/AmazonRootCA1.pem' },
};

function write(obj: unknown, name = 'agent.json'): string {
  const file = path.join(dir, name);
  writeFileSync(file, typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2));
  return file;
}

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('fills every default and resolves relative paths against the file directory', () => {
    const cfg = loadConfig({ file: write(minimal) });
    expect(cfg).toEqual({
      thingName: 'gateway-42',
      mqtt: {
        endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com',
        port: 8883,
        clientId: 'gateway-42',
        protocolVersion: 4,
        alpn: false,
        keepAliveSeconds: 60,
        transport: 'mqtt',
      },
      tls: {
        certificateFile: path.join(dir, 'certs/device.pem.crt'),
        privateKeyFile: path.join(dir, 'certs/private.pem.key'),
        rootCaFile: '/etc/ssl/AmazonRootCA1.pem',
      },
      jobs: {
        namespaces: [],
        defaultNamespace: true,
        mqttNamespaces: [],
        concurrency: 1,
        safetyPollSeconds: 900,
        requestTimeoutSeconds: 10,
        drainGraceSeconds: 30,
        outboxLimit: 1000,
        progressIntervalSeconds: 5,
      },
      handlers: { directories: [], scriptDirectories: [], defaultTimeoutSeconds: 3600, allowShell: false, options: {} },
      stateDirectory: '/var/lib/iot-jobs-agent',
      log: { level: 'info' },
    });
  });

  it('returns a deeply frozen object', () => {
    const cfg = loadConfig({ file: write(minimal) });
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.mqtt)).toBe(true);
    expect(Object.isFrozen(cfg.jobs.namespaces)).toBe(true);
    expect(() => {
      (cfg.mqtt as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('applies env overrides coerced by schema type, and overrides last', () => {
    const cfg = loadConfig({
      file: write({ ...minimal, jobs: { namespaces: ['x'], dataPlaneEndpoint: 'https://d.example:8443' } }),
      env: {
        IOT_JOBS_AGENT_MQTT_PORT: '8884',
        IOT_JOBS_AGENT_THINGNAME: 'other-thing',
        IOT_JOBS_AGENT_JOBS_NAMESPACES: 'a, b',
        IOT_JOBS_AGENT_JOBS_MQTT_NAMESPACES: '["b"]',
        IOT_JOBS_AGENT_MQTT_ALPN: 'true',
        IOT_JOBS_AGENT_MQTT_KEEP_ALIVE_SECONDS: '120',
        IOT_JOBS_AGENT_HANDLERS_OPTIONS: '{"exec":{"x":1}}',
        IOT_JOBS_AGENT_STATEDIRECTORY: 'state',
        UNRELATED: 'ignored',
      },
      overrides: { mqtt: { port: 443 }, log: { level: 'debug' } },
      cwd: '/srv',
    });
    expect(cfg.mqtt).toMatchObject({ port: 443, alpn: true, keepAliveSeconds: 120, clientId: 'other-thing' });
    expect(cfg.thingName).toBe('other-thing');
    expect(cfg.jobs.namespaces).toEqual(['a', 'b']);
    expect(cfg.jobs.mqttNamespaces).toEqual(['b']);
    expect(cfg.handlers.options).toEqual({ exec: { x: 1 } });
    expect(cfg.log.level).toBe('debug');
    expect(cfg.stateDirectory).toBe('/srv/state');
  });

  it('works from env alone, without a file', () => {
    const cfg = loadConfig({
      env: {
        IOT_JOBS_AGENT_THING_NAME: 't1',
        IOT_JOBS_AGENT_MQTT_ENDPOINT: 'localhost',
        IOT_JOBS_AGENT_TLS_CERTIFICATEFILE: '/c',
        IOT_JOBS_AGENT_TLS_PRIVATEKEYFILE: '/k',
        IOT_JOBS_AGENT_TLS_ROOTCAFILE: '/ca',
      },
    });
    expect(cfg.mqtt.clientId).toBe('t1');
  });

  it('lists every problem with its key path', () => {
    const file = write({
      thingName: 'bad thing!',
      mqtt: { endpoint: 'x', port: 'eighty', protocolVersion: 3, clientid: 'c' },
      tls: { rootCaFile: 'ca' },
      jobs: { namespaces: ['ok', 'not ok'], concurrency: 0 },
      log: { level: 'loud' },
      unknownKey: 1,
    });
    const p = problems(() => loadConfig({ file }));
    expect(p).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^thingName: must match pattern/),
        'mqtt.port: must be integer',
        'mqtt.protocolVersion: must be one of 4, 5',
        'mqtt.clientid: not allowed (did you mean "clientId"?)',
        expect.stringMatching(/^tls\.certificateFile: required/),
        expect.stringMatching(/^tls\.privateKeyFile: required/),
        expect.stringMatching(/^jobs\.namespaces\[1\]: must match pattern/),
        'jobs.concurrency: must be >= 1',
        expect.stringMatching(/^log\.level: must be one of "trace"/),
        'unknownKey: not allowed',
        expect.stringMatching(/^jobs\.dataPlaneEndpoint: required: namespaces "ok", "not ok" use the HTTPS data plane/),
      ]),
    );
    expect(p).toHaveLength(11);
  });

  it('names the env variable behind a bad value, and unknown IOT_JOBS_AGENT_ variables', () => {
    const p = problems(() =>
      loadConfig({
        file: write(minimal),
        env: { IOT_JOBS_AGENT_MQTT_PORT: 'abc', IOT_JOBS_AGENT_MQTT_PROT: '1', IOT_JOBS_AGENT_HANDLERS_OPTIONS: '{x' },
      }),
    );
    expect(p).toEqual([
      'IOT_JOBS_AGENT_MQTT_PROT: not a configuration key (expected IOT_JOBS_AGENT_<PATH>, e.g. IOT_JOBS_AGENT_MQTT_PORT)',
      expect.stringMatching(/^IOT_JOBS_AGENT_HANDLERS_OPTIONS: not valid JSON/),
      'mqtt.port: must be integer (from IOT_JOBS_AGENT_MQTT_PORT)',
    ]);
  });

  it('reports bad JSON with file, line and column', () => {
    const file = write('{\n  "thingName": "t",\n  "mqtt": { "endpoint": "x" }\n  "tls": {}\n}\n');
    const p = problems(() => loadConfig({ file }));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid JSON at line 4, column 3`));
  });

  it('reports an unreadable file and a non-object document', () => {
    expect(problems(() => loadConfig({ file: path.join(dir, 'missing.json') }))[0]).toMatch(/missing\.json: cannot read: .*ENOENT/);
    expect(problems(() => loadConfig({ file: write('[1]') }))).toEqual([`${path.join(dir, 'agent.json')}: must be a JSON object`]);
  });
});

describe('loadConfig: PKCS#11 and namespace rules', () => {
  const crt = { ...minimal, tls: { certificateFile: '/c', rootCaFile: '/ca' } };
  const p11 = { library: '/usr/lib/softhsm/libsofthsm2.so', tokenLabel: 'tok', keyLabel: 'key', pinFile: 'pin.txt' };

  it('accepts a key in a token with aws-crt and no privateKeyFile, resolving pinFile', () => {
    const cfg = loadConfig({ file: write({ ...crt, mqtt: { ...crt.mqtt, transport: 'aws-crt' }, pkcs11: p11 }) });
    expect(cfg.pkcs11).toEqual({ ...p11, pinFile: path.join(dir, 'pin.txt') });
    expect(cfg.tls.privateKeyFile).toBeUndefined();
  });

  it('keeps a bare library name for the dynamic loader', () => {
    const cfg = loadConfig({ file: write({ ...crt, mqtt: { ...crt.mqtt, transport: 'aws-crt' }, pkcs11: { ...p11, library: 'libsofthsm2.so' } }) });
    expect(cfg.pkcs11?.library).toBe('libsofthsm2.so');
  });

  it('refuses pkcs11 without aws-crt, and then requires privateKeyFile', () => {
    const p = problems(() => loadConfig({ file: write({ ...crt, pkcs11: p11 }) }));
    expect(p).toEqual([
      'pkcs11: requires mqtt.transport "aws-crt" (got "mqtt"): only aws-crt can use a key held in a token',
      'tls.privateKeyFile: required (unless the key is in a PKCS#11 token: mqtt.transport "aws-crt" with pkcs11)',
    ]);
  });

  it('refuses a PIN in the file with a clear message, and pinFile xor pinEnv, tokenLabel xor slotId', () => {
    const aws = { ...crt.mqtt, transport: 'aws-crt' };
    expect(problems(() => loadConfig({ file: write({ ...crt, mqtt: aws, pkcs11: { ...p11, pin: '1234' } }) }))).toEqual([
      'pkcs11.pin: not allowed: the PIN must come from pinFile or pinEnv, never from the configuration file',
    ]);
    expect(problems(() => loadConfig({ file: write({ ...crt, mqtt: aws, pkcs11: { ...p11, pinEnv: 'PIN', slotId: 0 } }) }))).toEqual([
      'pkcs11: set tokenLabel or slotId, not both',
      'pkcs11: set pinFile or pinEnv, not both',
    ]);
    const { tokenLabel: _t, pinFile: _p, ...bare } = p11;
    expect(problems(() => loadConfig({ file: write({ ...crt, mqtt: aws, pkcs11: bare }) }))).toEqual([
      'pkcs11.tokenLabel: required (or pkcs11.slotId): which token holds the key',
      'pkcs11.pinFile: required (or pkcs11.pinEnv): where the user PIN comes from',
    ]);
  });

  it('refuses privateKeyFile together with a token key', () => {
    const p = problems(() => loadConfig({ file: write({ ...minimal, mqtt: { ...minimal.mqtt, transport: 'aws-crt' }, pkcs11: p11 }) }));
    expect(p).toEqual(['tls.privateKeyFile: not allowed with pkcs11: the private key is in the token']);
  });

  it('needs no data plane when every namespace is worked over MQTT', () => {
    const cfg = loadConfig({ file: write({ ...minimal, jobs: { namespaces: ['a'], mqttNamespaces: ['a'] } }) });
    expect(cfg.jobs.dataPlaneEndpoint).toBeUndefined();
    expect(problems(() => loadConfig({ file: write({ ...minimal, jobs: { mqttNamespaces: ['z'] } }) }))).toEqual([
      'jobs.mqttNamespaces[0]: "z" is not listed in jobs.namespaces',
    ]);
  });

  it('refuses a config that works no jobs at all, and a bad data plane URL', () => {
    expect(problems(() => loadConfig({ file: write({ ...minimal, jobs: { defaultNamespace: false } }) }))).toEqual([
      'jobs.defaultNamespace: false with no jobs.namespaces leaves no jobs to work',
    ]);
    const p = problems(() => loadConfig({ file: write({ ...minimal, jobs: { namespaces: ['a'], dataPlaneEndpoint: 'http://x' } }) }));
    expect(p).toEqual([expect.stringMatching(/^jobs\.dataPlaneEndpoint: must match pattern/)]);
  });

  it('validates thing names up to 128 characters with colons', () => {
    expect(loadConfig({ file: write({ ...minimal, thingName: `a:b_c-${'x'.repeat(122)}` }) }).thingName).toHaveLength(128);
    expect(problems(() => loadConfig({ file: write({ ...minimal, thingName: 'x'.repeat(129) }) }))).toEqual([
      expect.stringMatching(/^thingName: must match pattern/),
    ]);
  });
});
