/**
 * The identity capability handlers get (`ctx.identity`, docs/ARCHITECTURE.md §8): the agent owns the
 * live connection, so it is the agent that reconnects with a new certificate and proves it with a
 * Jobs request (GetPendingJobExecutions) before the rotation commits.
 */
import type { AgentConfig } from '../config/types';
import type { IdentityControl } from '../handlers/api';
import { identityPaths, readIdentity } from '../identity/layout';
import { rotateCertificate } from '../identity/rotate';
import type { JobsApi } from '../jobs/api';
import { AbortedError, TimeoutError } from '../lib/errors';
import type { Logger } from '../lib/log';
import type { Transport } from '../transport/types';

export interface IdentityDeps {
  config: AgentConfig;
  transport: Transport;
  jobs: JobsApi;
  log: Logger;
  env: NodeJS.ProcessEnv;
}

/** Resolves on the next CONNACK (subscriptions restored); rejects on a failed attempt or the bound. */
function nextConnection(transport: Transport, timeoutMs: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      transport.off('connect', onConnect);
      transport.off('error', onError);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onConnect = (): void => done();
    const onError = (err: Error): void => done(err);
    const onAbort = (): void => done(new AbortedError('reconnecting', signal.reason));
    const timer = setTimeout(() => done(new TimeoutError('reconnecting with the new identity', timeoutMs)), timeoutMs);
    transport.on('connect', onConnect);
    transport.on('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

async function reconnectAndProve(d: IdentityDeps, signal: AbortSignal): Promise<void> {
  const timeoutMs = Math.max(d.config.jobs.requestTimeoutSeconds, d.config.provisioning?.stepTimeoutSeconds ?? 30) * 1000;
  const connected = nextConnection(d.transport, timeoutMs, signal);
  d.transport.restart();
  await connected;
  // GetPendingJobExecutions: needs the thing's own subscriptions and publish rights, in any namespace setup.
  await d.jobs.getPending({ timeoutMs: d.config.jobs.requestTimeoutSeconds * 1000, signal });
}

export function identityControl(d: IdentityDeps): (jobId: string) => IdentityControl {
  const paths = identityPaths(d.config.stateDirectory);
  return (jobId) => ({
    async current() {
      const r = await readIdentity(paths);
      return r ? { thingName: r.thingName, certificateId: r.certificateId } : undefined;
    },
    async rotate(o) {
      const r = await rotateCertificate(
        { config: d.config, transport: d.transport, log: d.log.child({ component: 'rotation' }), env: d.env, reconnectAndProve: (s) => reconnectAndProve(d, s) },
        { jobId, signal: o.signal, ...(o.templateName !== undefined ? { templateName: o.templateName } : {}) },
      );
      return { certificateId: r.certificateId, previousCertificateId: r.previousCertificateId };
    },
  });
}
