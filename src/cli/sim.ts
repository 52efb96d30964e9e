/** `iot-jobs-agent sim`: the local Jobs service in the foreground until SIGINT/SIGTERM. */
import { resolve } from 'node:path';
import { createLogger } from '../lib/log';
import type { LogLevel } from '../lib/log';
import { simOptionProblem } from '../sim/jobs/options';
import { startJobsService } from '../sim/start';
import type { SimOptions } from '../sim/types';
import { intFlag, parseFlags, UsageError } from './args';
import type { CliIo, Subcommand } from './args';

const USAGE = `Usage: iot-jobs-agent sim --state-dir DIR [options]

The local AWS IoT Jobs service: MQTT (embedded broker or --broker), HTTPS data plane (mTLS) and the
HTTP control plane (AWS IoT REST shape). Writes DIR/endpoints.json once it is ready.

Options:
  --state-dir DIR        certificates, endpoints.json (required)
  --things a,b           things to provision (default: thing1)
  --host H               listen address (default 127.0.0.1)
  --mqtt-port N          embedded broker port, 0 = any free port (default 0); 443 for an unmodified
                         AWS IoT Device Client (ALPN x-amzn-mqtt-ca; needs root or CAP_NET_BIND_SERVICE)
  --https-port N         data plane port (default 0)
  --control-port N       control plane port (default 0)
  --objects-dir DIR      serve S3 objects from DIR/BUCKET/KEY over HTTPS (sim CA); presigned-URL
                         placeholders then point there (endpoints.json "objects")
  --objects-port N       that front's port (default 0)
  --broker URL           join this broker (mqtts://HOST:PORT) instead of embedding one
  --broker-cert F        certificate the service joins the broker with (default: a jobs-service cert from the sim CA)
  --broker-key F         its private key
  --broker-ca F          CA the broker's certificate is checked against (default: the sim CA)
  --crl-file F           keep the CRL of the CA's certificates that may not connect here (default
                         DIR/crl.pem); give it to the broker (mosquitto: crlfile on the listener)
  --broker-pid PID       after each CRL change send SIGHUP to this broker (mosquitto rereads crlfile
                         only at start and on SIGHUP) and wait until it refuses what the CRL lists
  --broker-reload CMD    the same with a shell command, e.g. "systemctl reload mosquitto"
  --broker-takeover      also drop a live connection whose certificate stops being usable, by taking
                         over its client id (the thing name); a broker keeps open connections on reload
  --ca-cert F --ca-key F issue every certificate from this CA instead of generating one
  --option K=V           a protocol option (repeatable), e.g. throttlingStatus=400, describeTerminal=TerminalStateReached
  --time-scale N         simulated seconds per real second for timers (default 1); the control
                         plane's POST /sim/clock {"advanceMs":N} moves the clock forward at once
  --log-level L          trace|debug|info|warn|error (default info)
  --help`;

function parseOption(kv: string): [keyof SimOptions, unknown] {
  const i = kv.indexOf('=');
  if (i <= 0) throw new UsageError(`--option: expected KEY=VALUE, got ${JSON.stringify(kv)}`);
  const key = kv.slice(0, i) as keyof SimOptions;
  const raw = kv.slice(i + 1);
  let value: unknown = raw;
  if (raw === 'true' || raw === 'false') value = raw === 'true';
  else if (/^-?\d+$/.test(raw)) value = Number(raw);
  const problem = simOptionProblem(key, value);
  if (problem !== undefined) throw new UsageError(`--option: ${problem}`);
  return [key, value];
}

export const simCommand: Subcommand = {
  name: 'sim',
  summary: 'run the local AWS IoT Jobs service',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const f = parseFlags(argv, {
      'state-dir': { type: 'string' },
      things: { type: 'string' },
      host: { type: 'string' },
      'mqtt-port': { type: 'string' },
      'https-port': { type: 'string' },
      'control-port': { type: 'string' },
      'objects-dir': { type: 'string' },
      'objects-port': { type: 'string' },
      broker: { type: 'string' },
      'broker-cert': { type: 'string' },
      'broker-key': { type: 'string' },
      'broker-ca': { type: 'string' },
      'crl-file': { type: 'string' },
      'broker-pid': { type: 'string' },
      'broker-reload': { type: 'string' },
      'broker-takeover': { type: 'boolean' },
      'ca-cert': { type: 'string' },
      'ca-key': { type: 'string' },
      option: { type: 'string', multiple: true },
      'time-scale': { type: 'string' },
      'log-level': { type: 'string' },
    });
    if (!f['state-dir']) throw new UsageError('--state-dir is required');
    if (Boolean(f['ca-cert']) !== Boolean(f['ca-key'])) throw new UsageError('--ca-cert and --ca-key go together');
    if (f.broker && !/^mqtts:\/\/[^/]+:\d+\/?$/.test(f.broker)) throw new UsageError(`--broker: expected mqtts://HOST:PORT, got ${JSON.stringify(f.broker)}`);
    const brokerPid = intFlag('broker-pid', f['broker-pid'], 1, 4_194_304);
    if ((brokerPid !== undefined || f['broker-reload'] !== undefined || f['broker-takeover'] === true) && !f.broker) {
      throw new UsageError('--broker-pid, --broker-reload and --broker-takeover need --broker');
    }
    const things = (f.things ?? 'thing1').split(',').map((s) => s.trim()).filter(Boolean);
    const bad = things.filter((t) => !/^[a-zA-Z0-9:_-]{1,128}$/.test(t));
    if (bad.length) throw new UsageError(`--things: invalid thing name(s): ${bad.join(', ')}`);
    const options = Object.fromEntries((f.option ?? []).map(parseOption)) as Partial<SimOptions>;
    const timeScale = f['time-scale'] === undefined ? 1 : Number(f['time-scale']);
    if (!(timeScale > 0)) throw new UsageError('--time-scale: expected a positive number');
    const log = createLogger({ level: (f['log-level'] ?? 'info') as LogLevel, base: { component: 'sim' } });
    const abs = (p: string | undefined): string | undefined => (p === undefined ? undefined : resolve(p));
    const handle = await startJobsService({
      stateDir: resolve(f['state-dir']),
      things,
      host: f.host,
      mqttPort: intFlag('mqtt-port', f['mqtt-port']),
      httpsPort: intFlag('https-port', f['https-port']),
      controlPort: intFlag('control-port', f['control-port']),
      objectsDir: abs(f['objects-dir']),
      objectsPort: intFlag('objects-port', f['objects-port']),
      broker: f.broker,
      brokerCert: abs(f['broker-cert']),
      brokerKey: abs(f['broker-key']),
      brokerCa: abs(f['broker-ca']),
      crlFile: abs(f['crl-file']),
      ...(brokerPid !== undefined || f['broker-reload'] !== undefined ? { brokerReload: { pid: brokerPid, command: f['broker-reload'] } } : {}),
      brokerTakeover: f['broker-takeover'] === true,
      caCert: abs(f['ca-cert']),
      caKey: abs(f['ca-key']),
      options,
      timeScale,
      log,
    });
    log.info({ endpoints: handle.endpoints, file: handle.endpointsFile }, 'jobs service ready');
    const sig = await io.onStopSignal();
    log.info({ signal: sig }, 'jobs service stopping');
    await handle.close();
    return 0;
  },
};
