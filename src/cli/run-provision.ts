/**
 * `run` on a device that has no identity yet: fleet provisioning before the first connection as
 * the thing (docs/ARCHITECTURE.md §8), with an interrupted rotation settled first. systemd hears
 * READY at once and every step in STATUS=, and the watchdog is fed while provisioning waits.
 */
import type { AgentConfig } from '../config/types';
import { identityPaths, readIdentity } from '../identity/layout';
import { ensureIdentity } from '../identity/provision';
import { recoverRotation } from '../identity/rotation-files';
import { tokenKeyRemover } from '../identity/rotate';
import { AbortedError } from '../lib/errors';
import type { Logger } from '../lib/log';
import type { SdNotifier } from '../lib/sd-notify';

export interface ProvisionRunOptions {
  log: Logger;
  notifier: SdNotifier;
  env: NodeJS.ProcessEnv;
  stopSignal: Promise<NodeJS.Signals>;
}

/** True when the device has its identity; false when a stop signal came first. */
export async function ensureProvisioned(cfg: AgentConfig, o: ProvisionRunOptions): Promise<boolean> {
  const paths = identityPaths(cfg.stateDirectory);
  const settled = await recoverRotation(paths, tokenKeyRemover(cfg, o.env));
  if (settled) o.log.warn({ outcome: settled }, 'an interrupted certificate rotation was settled');
  if (await readIdentity(paths)) return true;
  const stop = new AbortController();
  void o.stopSignal.then(() => stop.abort(new Error('stop signal')));
  await o.notifier.ready('provisioning');
  const ping = o.notifier.watchdogIntervalMs;
  const timer = ping === undefined ? undefined : setInterval(() => void o.notifier.watchdog(), ping);
  try {
    await ensureIdentity({
      config: cfg,
      log: o.log.child({ component: 'provisioning' }),
      env: o.env,
      signal: stop.signal,
      onState: (text) => {
        o.log.info(text);
        void o.notifier.status(text);
      },
    });
    return true;
  } catch (err) {
    if (err instanceof AbortedError) {
      await o.notifier.stopping('stopped while provisioning');
      return false;
    }
    throw err;
  } finally {
    if (timer) clearInterval(timer);
  }
}
