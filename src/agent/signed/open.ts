/** Opens the signed-document checks of an agent whose configuration has a `trust` section. */
import { join } from 'node:path';
import type { AgentConfig, TrustConfig } from '../../config/types';
import { buildTime } from '../../lib/build-time';
import type { Logger } from '../../lib/log';
import type { Dialer } from '../../net';
import { ArtifactStager } from './artifacts';
import { TrustGate } from './gate';
import { Ledger } from './ledger';
import { TrustHolder } from './trust-holder';

/** The signed-document checks (docs/SIGNING.md): the accepted trust store and the ledger live in `{stateDirectory}/trust`. */
export async function openGate(config: AgentConfig, t: TrustConfig, log: Logger, network: Dialer): Promise<TrustGate> {
  const dir = join(config.stateDirectory, 'trust');
  const trust = await TrustHolder.open(t.storeFile, dir, log);
  const ledger = await Ledger.open(dir);
  const artifacts = await ArtifactStager.open({ root: join(config.stateDirectory, 'artifacts'), network, caFile: config.tls.rootCaFile, log: log.child({ component: 'artifacts' }) });
  log.info({ mode: t.mode, trustVersion: trust.current.version, labels: t.labels, allowUnsigned: t.allowUnsigned.map((a) => a.handler) }, 'signed job documents required');
  return new TrustGate({ thingName: config.thingName, labels: t.labels, mode: t.mode, allowUnsigned: t.allowUnsigned, buildTime: buildTime(), trust, ledger, artifacts, log: log.child({ component: 'trust' }) });
}
