/**
 * The accepted trust store (docs/SIGNING.md): the one shipped with the device (`trust.storeFile`,
 * e.g. in the OS image) or a newer one a `trust-update` job delivered, kept in
 * `{stateDirectory}/trust/store.json`. Whichever has the higher version wins, so an update is never
 * rolled back by a restart, and an OS image with a newer store takes over from an older kept one.
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { AgentError, errorMessage } from '../../lib/errors';
import { atomicWriteFile } from '../../lib/fsutil';
import type { Logger } from '../../lib/log';
import { loadTrustStore, newerStore } from '../../trust';
import type { TrustStore } from '../../trust';

const FILE = 'store.json';

export class TrustHolder {
  private constructor(
    private readonly dir: string,
    private store: TrustStore,
  ) {}

  /** Throws an AgentError naming the file when the shipped store cannot be used (check-config says the same). */
  static async open(storeFile: string, dir: string, log: Logger): Promise<TrustHolder> {
    let shipped: TrustStore;
    try {
      shipped = loadTrustStore(await fsp.readFile(storeFile));
    } catch (err) {
      throw new AgentError('TrustStore', `trust.storeFile ${storeFile}: ${errorMessage(err)}`);
    }
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    let kept: TrustStore | undefined;
    try {
      kept = loadTrustStore(await fsp.readFile(join(dir, FILE)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.error({ file: join(dir, FILE), err: errorMessage(err) }, 'the kept trust store is unusable; using the shipped one');
    }
    const store = kept === undefined ? shipped : newerStore(shipped, kept);
    log.info({ trustVersion: store.version, from: store === shipped ? storeFile : join(dir, FILE) }, 'trust store loaded');
    return new TrustHolder(dir, store);
  }

  get current(): TrustStore {
    return this.store;
  }

  /** Keeps `next` (verified to follow the current store) durably, then makes it current. */
  async accept(next: TrustStore): Promise<void> {
    if (next.version <= this.store.version) return;
    await atomicWriteFile(join(this.dir, FILE), `${JSON.stringify(next.doc, null, 2)}\n`, 0o600);
    this.store = next;
  }
}
