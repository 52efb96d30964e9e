/** `iot-jobs-agent run`: the agent in the foreground, as systemd starts it. */
import { createAgent } from '../agent/create';
import { checkConfig } from '../config/check';
import { probePkcs11 } from '../transport';
import type * as TrustMod from '../trust';
import { ConfigError, errorMessage } from '../lib/errors';
import { createLogger } from '../lib/log';
import type { LogLevel } from '../lib/log';
import { createSdNotifier } from '../lib/sd-notify';
import { parseFlags } from './args';
import type { CliIo, Subcommand } from './args';
import { configFrom } from './config-flags';
import { prettyDestination } from './pretty';
import { ensureProvisioned } from './run-provision';

const USAGE = `Usage: iot-jobs-agent run --config FILE [--log-level L] [--log-pretty]

Runs the agent in the foreground: connects to AWS IoT Core (or the local Jobs service), fetches and
runs pending jobs, reports every status. SIGTERM/SIGINT drain and stop it (exit 0); a second signal
exits at once. Configuration keys may be overridden by IOT_JOBS_AGENT_* environment variables.`;

/** The trust store's check loads src/trust only where `trust` is configured (checkConfig calls it then). */
function trustProbe(text: string): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading is the point
  (require('../trust') as typeof TrustMod).loadTrustStore(text);
}

export const runCommand: Subcommand = {
  name: 'run',
  summary: 'run the agent in the foreground',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const f = parseFlags(argv, { config: { type: 'string' }, 'log-level': { type: 'string' }, 'log-pretty': { type: 'boolean' } });
    let cfg = configFrom(f.config, io);
    const checked = await checkConfig(cfg, { env: io.env, pkcs11Probe: probePkcs11, trustProbe });
    if (checked.errors.length) throw new ConfigError(checked.errors);
    const level = (f['log-level'] ?? cfg.log.level) as LogLevel;
    const rootLog = createLogger({ level, ...(f['log-pretty'] ? { destination: prettyDestination(io.stdout) } : {}) });
    for (const w of checked.warnings) rootLog.warn(w);
    const notifier = createSdNotifier(io.env);
    const stopSignal = io.onStopSignal(() => {
      // Every journal record is fsynced when written (a torn last line is dropped on the next start),
      // so leaving now loses nothing: the next start recovers by each handler's restart policy.
      rootLog.warn('second stop signal: exiting now; the journal is already on disk');
      process.exit(1);
    });
    if (cfg.provisioning) {
      const ready = await ensureProvisioned(cfg, { log: rootLog, notifier, env: io.env, stopSignal });
      if (!ready) return 0;
      // The identity is on disk now: the configuration names the thing and its files.
      cfg = configFrom(f.config, io);
    }
    const log = rootLog.child({ thing: cfg.thingName });
    const agent = await createAgent(cfg, { log, notifier, env: io.env });
    const stopped = new Promise<void>((resolve) => agent.once('state', function onState(s: string) {
      if (s === 'stopped') resolve();
      else agent.once('state', onState);
    }));
    await agent.start();
    log.info({ version: process.version, pid: process.pid }, 'agent started');
    const sig = await stopSignal;
    log.info({ signal: sig }, 'stop signal received: draining');
    try {
      await agent.stop();
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'error while stopping');
      return 1;
    }
    await stopped;
    log.info('agent stopped');
    return 0;
  },
};
