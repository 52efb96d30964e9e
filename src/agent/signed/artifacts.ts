/**
 * The artifacts of an accepted envelope (docs/SIGNING.md, "Artifacts"), the last check before a
 * handler runs: each one is downloaded into `{stateDirectory}/artifacts/{ns}/{jobId}-{n}/{NAME}/`
 * (directories 0700, files 0600) from its checked presigned URL (`urls[NAME]`) or its signed https
 * URL, and checked against its signed size and SHA-256. The handler then gets the local paths and
 * never a URL, so nothing it reads can change after the check. The execution's files go when it
 * ends; whatever a crash left behind goes when the agent starts.
 */
import { readFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { errorMessage } from '../../lib/errors';
import type { Logger } from '../../lib/log';
import type { Dialer } from '../../net';
import { TrustError } from '../../trust';
import type { Artifact, JobPayload } from '../../trust';
import { downloadArtifact, DownloadFailed } from './download';

export interface StagerOptions {
  /** `{stateDirectory}/artifacts`: emptied on open. */
  root: string;
  network: Pick<Dialer, 'connect'>;
  /** Trusted besides Node's built-in public CAs: the agent's `tls.rootCaFile` (on AWS the Amazon root CA, which also anchors S3). */
  caFile?: string;
  log: Logger;
  idleTimeoutMs?: number;
}

export type StageResult =
  | { ok: true; paths: Record<string, string> }
  /** `reject`: the complete download is not the signed file (REJECTED); else it did not complete (FAILED). */
  | { ok: false; reject: boolean; detail: string };

/** The file name a handler sees: the object's own name when it is a plain one (an installer may look at `.deb`). */
function fileNameOf(a: Artifact): string {
  const path = a.s3 ? a.s3.key : new URL(a.url ?? 'https://x/').pathname;
  const base = path.split('/').pop() ?? '';
  return /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/.test(base) ? base : 'artifact';
}

export class ArtifactStager {
  private constructor(private readonly o: StagerOptions) {}

  static async open(o: StagerOptions): Promise<ArtifactStager> {
    // Left by a crash: a restarted execution downloads (and checks) again.
    await rm(o.root, { recursive: true, force: true });
    await mkdir(o.root, { recursive: true, mode: 0o700 });
    return new ArtifactStager(o);
  }

  private dirOf(key: string): string {
    return join(this.o.root, key);
  }

  private async ca(): Promise<string[] | undefined> {
    if (this.o.caFile === undefined) return undefined;
    // Read at every job, as the MQTT transport does: a rotated CA file is picked up without a restart.
    return [...rootCertificates, await readFile(this.o.caFile, 'utf8')];
  }

  /**
   * Downloads every artifact of `p` for execution `key` (`{ns}/{jobId}-{n}`), from `urls` (already
   * checked against the signed locators) or the signed URL. Stops at the first artifact that fails.
   */
  async stage(key: string, p: Pick<JobPayload, 'artifacts'>, urls: Readonly<Record<string, string>> | undefined, signal?: AbortSignal): Promise<StageResult> {
    const dir = this.dirOf(key);
    await rm(dir, { recursive: true, force: true });
    const paths: Record<string, string> = {};
    try {
      const ca = await this.ca();
      for (const [name, a] of Object.entries(p.artifacts ?? {})) {
        const url = a.s3 ? urls?.[name] : a.url;
        if (url === undefined) return { ok: false, reject: true, detail: `artifact ${JSON.stringify(name)} has no URL` };
        await mkdir(join(dir, name), { recursive: true, mode: 0o700 });
        const file = join(dir, name, fileNameOf(a));
        const started = Date.now();
        await downloadArtifact(url, file, name, a, { network: this.o.network, maxRedirects: a.s3 ? 0 : 5, ...(ca ? { ca } : {}), ...(signal ? { signal } : {}), ...(this.o.idleTimeoutMs ? { idleTimeoutMs: this.o.idleTimeoutMs } : {}) });
        this.o.log.info({ artifact: name, bytes: a.size, ms: Date.now() - started }, 'artifact downloaded and verified');
        paths[name] = file;
      }
      return { ok: true, paths };
    } catch (err) {
      await this.remove(key);
      if (err instanceof TrustError) return { ok: false, reject: true, detail: err.message };
      if (err instanceof DownloadFailed) return { ok: false, reject: false, detail: err.message };
      // A full disk or an unreadable CA file: nothing about the artifact is known, so not REJECTED.
      return { ok: false, reject: false, detail: `artifacts: ${errorMessage(err)}` };
    }
  }

  /** Removes an execution's files (when it ended). */
  async remove(key: string): Promise<void> {
    await rm(this.dirOf(key), { recursive: true, force: true }).catch((err: unknown) => this.o.log.warn({ err: errorMessage(err), key }, 'could not remove downloaded artifacts'));
  }
}
