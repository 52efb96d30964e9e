/** Loading the agent configuration for a subcommand: --config FILE + IOT_JOBS_AGENT_* environment. */
import { resolve } from 'node:path';
import { loadConfig } from '../config/load';
import type { AgentConfig } from '../config/types';
import { UsageError } from './args';
import type { CliIo } from './args';

export function configFrom(file: string | undefined, io: CliIo): AgentConfig {
  if (!file) throw new UsageError('--config FILE is required');
  return loadConfig({ file: resolve(file), env: io.env });
}
