/** `iot-jobs-agent provision`: fleet provisioning by claim, once (docs/ARCHITECTURE.md §6, §8). */
import { checkConfig } from '../config/check';
import { identityPaths, readIdentity } from '../identity/layout';
import { provisionOnce } from '../identity/provision';
import { ConfigError } from '../lib/errors';
import { createLogger } from '../lib/log';
import type { LogLevel } from '../lib/log';
import { parseFlags, UsageError } from './args';
import type { CliIo, Subcommand } from './args';
import { configFrom } from './config-flags';

const USAGE = `Usage: iot-jobs-agent provision --config FILE [--log-level L]

Fleet provisioning by claim, once: connects with provisioning.claim, gets this device's own
certificate (CreateCertificateFromCsr, the key made on the device; or CreateKeysAndCertificate with
method "create-keys"), registers the thing with provisioning.templateName, stores the identity under
{stateDirectory}/identity/ and prints the thing name. A device that already has its identity prints
it and exits 0 without contacting anyone. A run interrupted at any step resumes where it stopped.
Exit 0 provisioned, 1 failed (the reason is printed; run it again), 2 bad configuration.`;

export const provisionCommand: Subcommand = {
  name: 'provision',
  summary: 'get this device its own certificate and thing (fleet provisioning by claim)',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const f = parseFlags(argv, { config: { type: 'string' }, 'log-level': { type: 'string' } });
    const cfg = configFrom(f.config, io);
    if (!cfg.provisioning) throw new UsageError('the configuration has no provisioning section');
    const have = await readIdentity(identityPaths(cfg.stateDirectory));
    if (have) {
      io.stdout.write(`${have.thingName}\n`);
      return 0;
    }
    const checked = await checkConfig(cfg, { env: io.env });
    if (checked.errors.length) throw new ConfigError(checked.errors);
    const log = createLogger({ level: (f['log-level'] ?? 'warn') as LogLevel, destination: io.stderr });
    const identity = await provisionOnce({ config: cfg, log, env: io.env, onState: (t) => log.info(t) });
    io.stdout.write(`${identity.thingName}\n`);
    return 0;
  },
};
