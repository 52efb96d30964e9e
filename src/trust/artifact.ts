/**
 * An artifact's bytes against its signed SHA-256 and size. Used while streaming a download (stop
 * at size + 1 bytes) and on a finished file.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Artifact } from './payload';
import { TrustError } from './reasons';

/** Feeds chunks in order; `update` throws as soon as the size is exceeded, `finish` checks size and hash. */
export class ArtifactDigest {
  private readonly hash: Hash = createHash('sha256');
  private seen = 0;
  constructor(
    private readonly name: string,
    private readonly expected: Pick<Artifact, 'sha256' | 'size'>,
  ) {}

  update(chunk: Uint8Array): void {
    this.seen += chunk.length;
    if (this.seen > this.expected.size) {
      throw new TrustError('artifact-digest-mismatch', `artifact ${JSON.stringify(this.name)}: more than the signed ${this.expected.size} bytes`);
    }
    this.hash.update(chunk);
  }

  /** Throws `artifact-digest-mismatch` unless exactly the signed bytes went through. */
  finish(): void {
    if (this.seen !== this.expected.size) {
      throw new TrustError('artifact-digest-mismatch', `artifact ${JSON.stringify(this.name)}: ${this.seen} bytes, signed ${this.expected.size}`);
    }
    const got = this.hash.digest();
    if (!timingSafeEqual(got, Buffer.from(this.expected.sha256, 'hex'))) {
      throw new TrustError('artifact-digest-mismatch', `artifact ${JSON.stringify(this.name)}: SHA-256 ${got.toString('hex')}, signed ${this.expected.sha256}`);
    }
  }

  get bytes(): number {
    return this.seen;
  }
}

/** Checks a file on disk against its signed digest. */
export async function verifyArtifactFile(path: string, name: string, expected: Pick<Artifact, 'sha256' | 'size'>): Promise<void> {
  const d = new ArtifactDigest(name, expected);
  for await (const chunk of createReadStream(path)) d.update(chunk as Buffer);
  d.finish();
}

/** SHA-256 and size of a file, for the signing side. */
export async function digestFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}
