/**
 * One artifact download (docs/SIGNING.md, "Artifacts"): HTTPS GET through the agent's Dialer (its
 * proxy when one applies), TLS verified against Node's built-in public CAs plus the agent's root CA,
 * streamed into a new 0600 file while the bytes are counted and hashed. It stops at the signed size
 * + 1 byte.
 *
 * Two ways to end badly, with different verdicts: the complete response is not
 * the signed file — more bytes than signed, a Content-Length other than the signed size, or the
 * wrong SHA-256 — which throws `TrustError('artifact-digest-mismatch')` (REJECTED, never retried);
 * anything that kept the complete response from arriving — refused connection, TLS failure, an HTTP
 * error status, a connection cut mid-body, silence — throws `DownloadFailed` (FAILED, so an AWS retry
 * may fetch it again with a fresh presigned URL).
 */
import { open } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { AgentError, errorMessage } from '../../lib/errors';
import type { Dialer } from '../../net';
import { ArtifactDigest, TrustError } from '../../trust';
import type { Artifact } from '../../trust';

/** The download did not complete; nothing is known about the object's content. Retryable. */
export class DownloadFailed extends AgentError {
  constructor(message: string, cause?: unknown) {
    super('ArtifactDownload', message, { retryable: true, cause });
  }
}

export interface DownloadOptions {
  network: Pick<Dialer, 'connect'>;
  /** Trusted CAs (PEM), replacing Node's default list; undefined: the default list. */
  ca?: string[];
  signal?: AbortSignal;
  /** A response that sends nothing for this long is given up (default 60 s). */
  idleTimeoutMs?: number;
  /** Redirects followed (https to https only); 0 for presigned S3 URLs, which name the object themselves. */
  maxRedirects: number;
}

type Created = (err: Error | null, stream: Duplex) => void;

/** An error's message and code (`unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)`). */
function describe(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown } | null;
  const msg = typeof e?.message === 'string' ? e.message : errorMessage(err);
  return typeof e?.code === 'string' && !msg.includes(e.code) ? `${msg} (${e.code})` : msg;
}

function get(url: URL, o: DownloadOptions): Promise<IncomingMessage> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 443);
  const createConnection = (_opts: unknown, done: Created): undefined => {
    o.network.connect(host, port, o.signal ? { signal: o.signal } : {}).then(
      (socket) => {
        // RFC 6066: no IP address as SNI; verification still checks the IP SAN.
        const tls = tlsConnect({ socket, host, rejectUnauthorized: true, ALPNProtocols: ['http/1.1'], ...(isIP(host) === 0 ? { servername: host } : {}), ...(o.ca ? { ca: o.ca } : {}) });
        done(null, tls);
      },
      (err: Error) => done(err, undefined as unknown as Duplex),
    );
    return undefined;
  };
  return new Promise((resolve, reject) => {
    // The URL object goes as is: a presigned query must reach the server byte for byte.
    const req = https.get(url, { createConnection: createConnection as never, ...(o.signal ? { signal: o.signal } : {}) }, resolve);
    req.on('error', reject);
    const idle = o.idleTimeoutMs ?? 60_000;
    req.setTimeout(idle, () => req.destroy(new DownloadFailed(`no data from ${url.host} for ${idle / 1000} s`)));
  });
}

/** The response for the object, after the redirects allowed; only a 200 comes back. */
async function respond(url: URL, o: DownloadOptions, redirects = 0): Promise<IncomingMessage> {
  let res: IncomingMessage;
  try {
    res = await get(url, o);
  } catch (err) {
    throw err instanceof DownloadFailed ? err : new DownloadFailed(`${url.host}: ${describe(err)}`, err);
  }
  const status = res.statusCode ?? 0;
  if (status >= 300 && status < 400 && res.headers.location !== undefined && redirects < o.maxRedirects) {
    res.resume();
    const next = new URL(res.headers.location, url);
    if (next.protocol !== 'https:') throw new DownloadFailed(`${url.host} redirected to ${next.protocol} (https only)`);
    return respond(next, o, redirects + 1);
  }
  if (status !== 200) {
    res.resume();
    throw new DownloadFailed(`${url.host} answered HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`);
  }
  return res;
}

/**
 * Downloads `url` into `file` (created, must not exist) and checks it against the signed size and
 * SHA-256 of artifact `name`. Resolves only when exactly the signed bytes are on disk, fsynced.
 */
export async function downloadArtifact(url: string, file: string, name: string, expected: Pick<Artifact, 'sha256' | 'size'>, o: DownloadOptions): Promise<void> {
  const res = await respond(new URL(url), o);
  const declared = res.headers['content-length'];
  if (declared !== undefined && Number(declared) !== expected.size) {
    res.destroy();
    throw new TrustError('artifact-digest-mismatch', `artifact ${JSON.stringify(name)}: the server sends ${declared} bytes, signed ${expected.size}`);
  }
  const digest = new ArtifactDigest(name, expected);
  const fh = await open(file, 'wx', 0o600);
  try {
    try {
      for await (const chunk of res) {
        digest.update(chunk as Buffer);
        await fh.write(chunk as Buffer);
      }
    } catch (err) {
      if (err instanceof TrustError) throw err;
      throw new DownloadFailed(`artifact ${JSON.stringify(name)}: the download broke off after ${digest.bytes} of ${expected.size} bytes (${describe(err)})`, err);
    }
    if (!res.complete) throw new DownloadFailed(`artifact ${JSON.stringify(name)}: the connection closed after ${digest.bytes} of ${expected.size} bytes`);
    digest.finish();
    await fh.sync();
  } finally {
    res.destroy();
    await fh.close();
  }
}
