/** `iot-jobs-agent check-config`: the schema, the files and permissions, the handlers — every problem at once. */
import { buildRegistry, createNetwork } from '../agent/create';
import type { AgentConfig } from '../config/types';
import { probeProxy } from '../net';
import { checkConfig } from '../config/check';
import { probePkcs11 } from '../transport';
import { loadTrustStore } from '../trust';
import { errorMessage } from '../lib/errors';
import { silentLogger } from '../lib/log';
import { parseFlags } from './args';
import type { CliIo, Subcommand } from './args';
import { configFrom } from './config-flags';

const USAGE = `Usage: iot-jobs-agent check-config --config FILE

Validates the configuration (schema, IOT_JOBS_AGENT_* overrides), the certificate, key and CA files
and their permissions, the state directory, the handler directories and modules. With a proxy (the
proxy key, or HTTPS_PROXY / ALL_PROXY) it opens one tunnel to the MQTT endpoint and says what the
proxy answered. Prints every problem; exit 0 when there is none, 2 otherwise.`;

/** The proxy, if any: one tunnel to the endpoint, and the proxy's answer. */
async function checkProxy(cfg: AgentConfig, io: CliIo, errors: string[]): Promise<void> {
  let result;
  try {
    result = await probeProxy(createNetwork(cfg, io.env), cfg.mqtt.endpoint, cfg.mqtt.port);
  } catch (err) {
    errors.push(`proxy: ${errorMessage(err)}`);
    return;
  }
  if (result === undefined) return;
  if (result.ok) io.stdout.write(`${result.text}\n`);
  else errors.push(result.text);
}

export const checkConfigCommand: Subcommand = {
  name: 'check-config',
  summary: 'validate config, files, permissions and handlers',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const f = parseFlags(argv, { config: { type: 'string' } });
    const cfg = configFrom(f.config, io);
    const r = await checkConfig(cfg, { env: io.env, pkcs11Probe: probePkcs11, trustProbe: (text) => void loadTrustStore(text) });
    const errors = [...r.errors];
    try {
      const { problems } = await buildRegistry(cfg, { log: silentLogger() });
      errors.push(...problems.map((p) => `handlers: ${p}`));
    } catch (err) {
      errors.push(`handlers: ${errorMessage(err)}`);
    }
    if (r.errors.length === 0) await checkProxy(cfg, io, errors);
    for (const w of r.warnings) io.stdout.write(`warning: ${w}\n`);
    for (const e of errors) io.stderr.write(`error: ${e}\n`);
    if (errors.length) {
      io.stderr.write(`${errors.length} problem(s) found in ${f.config ?? ''}\n`);
      return 2;
    }
    io.stdout.write(`configuration OK (${cfg.thingName || 'not provisioned yet'} → ${cfg.mqtt.endpoint}:${cfg.mqtt.port})\n`);
    return 0;
  },
};
