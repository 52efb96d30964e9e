/**
 * The command line: argv → subcommand, exit codes (0 ok, 1 runtime failure, 2 bad usage or bad
 * config) and signal handling. The only place in the project that touches process signals or exits.
 */
import { ConfigError, errorMessage } from '../lib/errors';
import { UsageError } from './args';
import type { CliIo, Subcommand } from './args';
import type * as CheckMod from './check-config';
import type * as DemoMod from './demo';
import type * as ProvisionMod from './provision';
import type * as JobMod from './job';
import type * as KeysMod from './keys';
import type * as RunMod from './run';
import type * as SimMod from './sim';
import type * as StatusMod from './status';
import type * as TrustMod from './trust';

/**
 * Subcommands load on demand: `run` (what systemd starts) never pays for the sim's broker, PKI
 * library or the demo. The summaries are here so `--help` loads nothing.
 */
interface Entry {
  name: string;
  summary: string;
  load(): Subcommand;
}

/* eslint-disable @typescript-eslint/no-require-imports -- lazy loading is the point */
const COMMANDS: Entry[] = [
  { name: 'run', summary: 'run the agent in the foreground', load: () => (require('./run') as typeof RunMod).runCommand },
  { name: 'check-config', summary: 'validate config, files, permissions and handlers', load: () => (require('./check-config') as typeof CheckMod).checkConfigCommand },
  { name: 'provision', summary: 'get this device its own certificate and thing (fleet provisioning)', load: () => (require('./provision') as typeof ProvisionMod).provisionCommand },
  { name: 'status', summary: 'show the journal: current job, recent outcomes, outbox', load: () => (require('./status') as typeof StatusMod).statusCommand },
  { name: 'sim', summary: 'run the local AWS IoT Jobs service', load: () => (require('./sim') as typeof SimMod).simCommand },
  { name: 'demo', summary: 'sim + agent + sample jobs, with a live view', load: () => (require('./demo') as typeof DemoMod).demoCommand },
  { name: 'keys', summary: 'generate an operator signing key pair', load: () => (require('./keys') as typeof KeysMod).keysCommand },
  { name: 'trust', summary: 'sign or verify a trust store', load: () => (require('./trust') as typeof TrustMod).trustCommand },
  { name: 'job', summary: 'sign or verify a job document envelope', load: () => (require('./job') as typeof JobMod).jobCommand },
];
/* eslint-enable @typescript-eslint/no-require-imports */

function topUsage(): string {
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(14)}${c.summary}`);
  return `Usage: iot-jobs-agent <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'iot-jobs-agent <command> --help' for a command's options.`;
}

function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    onStopSignal(onSecond?: () => void): Promise<NodeJS.Signals> {
      return new Promise((resolve) => {
        let first = true;
        const handler = (sig: NodeJS.Signals): void => {
          if (first) {
            first = false;
            resolve(sig);
            return;
          }
          if (onSecond) onSecond();
          else process.exit(130);
        };
        process.on('SIGINT', handler);
        process.on('SIGTERM', handler);
      });
    },
  };
}

export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(`${topUsage()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    io.stdout.write(`${(require('../../../package.json') as { version: string }).version}\n`);
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    io.stderr.write(`iot-jobs-agent: unknown command ${JSON.stringify(name)}\n\n${topUsage()}\n`);
    return 2;
  }
  const cmd = entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${cmd.usage}\n`);
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`iot-jobs-agent ${cmd.name}: ${err.message}\n\n${cmd.usage}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      io.stderr.write(`iot-jobs-agent ${cmd.name}: invalid configuration:\n${err.problems.map((p) => `  - ${p}`).join('\n')}\n`);
      return 2;
    }
    io.stderr.write(`iot-jobs-agent ${cmd.name}: ${errorMessage(err)}\n`);
    return 1;
  }
}

if (require.main === module || process.argv[1]?.endsWith('iot-jobs-agent.js') || process.argv[1]?.endsWith('iot-jobs-agent')) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Whatever a library left open (a keep-alive socket, a timer) must not keep a finished command alive.
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (err: unknown) => {
      process.stderr.write(`iot-jobs-agent: ${errorMessage(err)}\n`);
      process.exit(1);
    },
  );
}
