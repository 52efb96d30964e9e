/**
 * Everything that serves jobs, in one map: the built-ins given, the operator's handler
 * directories (a name already taken is reported, the first one wins) and `device-client-steps`.
 */
import type { AgentConfig } from '../config/types';
import type { HandlerLogger, JobHandler } from './api';
import { createDeviceClientHandler } from './device-client';
import { DEVICE_CLIENT_HANDLER } from './document';
import { loadHandlers, type LoadResult } from './loader';

type HandlersConfig = AgentConfig['handlers'];

/** `ctx.options` for a handler: `handlers.options[name]`, and for `exec` the agent's `allowShell`. */
export function handlerOptions(cfg: HandlersConfig, name: string): Readonly<Record<string, unknown>> {
  const own = cfg.options[name] ?? {};
  return Object.freeze(name === 'exec' ? { ...own, allowShell: cfg.allowShell } : { ...own });
}

export interface RegistryOptions {
  log?: HandlerLogger;
  /** Handlers compiled into the agent (handlers/_builtins.ts), loaded before the directories. */
  builtins?: readonly JobHandler[];
}

export async function loadAllHandlers(cfg: HandlersConfig, opts: RegistryOptions = {}): Promise<LoadResult> {
  const result = await loadHandlers(cfg.directories, { ...(opts.log ? { log: opts.log } : {}), builtins: opts.builtins ?? [] });
  const handlers: Map<string, JobHandler> = result.handlers;
  if (handlers.has(DEVICE_CLIENT_HANDLER)) {
    result.problems.push(`handler name ${DEVICE_CLIENT_HANDLER} is reserved for Device Client documents; the loaded module replaces it`);
  } else {
    handlers.set(
      DEVICE_CLIENT_HANDLER,
      createDeviceClientHandler({
        scriptDirectories: cfg.scriptDirectories,
        handlers: () => handlers,
        optionsFor: (name) => handlerOptions(cfg, name),
      }),
    );
  }
  return result;
}
