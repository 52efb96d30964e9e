/**
 * The public contract for handler modules (docs/ARCHITECTURE.md §4, §6). Type-only: a third-party handler
 * compiles against this file alone (re-exported from the package entry point) and imports nothing
 * else from the agent.
 *
 * A handler module default-exports a JobHandler whose `name` is the `operation` it serves.
 */

import type { Duplex } from 'node:stream';

export type RestartPolicy = 'fail' | 'rerun' | 'resume';
export type StatusDetails = Record<string, string>;

export interface HandlerResult {
  status: 'SUCCEEDED' | 'FAILED';
  details?: StatusDetails;
}

export interface JobInfo {
  jobId: string;
  executionNumber: number;
  versionNumber: number;
  /** Absent for the default namespace. */
  namespace?: string;
  queuedAt: number;
  thingName: string;
}

export interface HandlerLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface RunProcessOptions {
  cwd?: string;
  /** Added to the scrubbed base environment (PATH, HOME, LANG). */
  env?: Record<string, string>;
  /** Run as this user (name or numeric uid); resolved to uid/gid and applied by spawn. Unknown user → rejection. */
  runAsUser?: string;
  /** SIGTERM then SIGKILL (after `killGraceMs`) to the whole process group at this deadline. */
  timeoutMs?: number;
  killGraceMs?: number;
  /** Bytes of stdout/stderr kept (the tail). Default 64 KiB each. */
  maxCaptureBytes?: number;
  /** Only when the handler explicitly allows it and config permits (`exec` with `"shell": true`). */
  shell?: boolean;
  /** Data written to the child's stdin, then closed. */
  input?: string;
  /** Called with each chunk as it arrives (e.g. for progress parsing). */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /** Aborting it kills the process group (SIGTERM, grace, SIGKILL); pass `ctx.signal`. */
  signal?: AbortSignal;
}

export interface ProcessResult {
  /** Exit code, or null when killed by a signal. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** "exit 0", "exit 1", "killed by SIGKILL". */
  description: string;
  stdout: string;
  stderr: string;
  /** True when output beyond maxCaptureBytes was discarded. */
  truncated: boolean;
  timedOut: boolean;
  aborted: boolean;
}

export interface ProcessRunner {
  /** argv[0] is the program; never interpreted by a shell unless `shell` is set and allowed. */
  run(argv: readonly string[], opts?: RunProcessOptions): Promise<ProcessResult>;
}

/**
 * The agent's way out of the device: through the configured proxy (HTTP CONNECT, HTTPS or SOCKS5)
 * when one applies to the host, else directly. A handler that opens network connections uses it, so
 * a download goes where MQTT goes and never around the proxy.
 */
export interface NetworkAccess {
  /** A connected TCP stream to host:port (a proxy tunnel when one applies); run TLS over it yourself. */
  connect(host: string, port: number, opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<Duplex>;
  /** The proxy connections to `host` go through (`http://user@proxy:3128`, no password), or undefined when direct. */
  proxyFor(host: string): string | undefined;
}

/** The device's own identity as the agent lets a handler touch it (docs/ARCHITECTURE.md §8). */
export interface IdentityControl {
  /** The provisioned identity in use; undefined when the device has none. */
  current(): Promise<{ thingName: string; certificateId: string } | undefined>;
  /**
   * Rotate the certificate: new key, CSR on the live connection, RegisterThing with the rotation
   * template, reconnect and prove, commit. Rejects (after rolling back to the old identity) with an
   * Error whose message is the reason.
   */
  rotate(o: { templateName?: string; signal: AbortSignal }): Promise<{ certificateId: string; previousCertificateId: string }>;
}

export interface HandlerContext<Doc = unknown> {
  /** Fires on cancellation, timeout or shutdown; `signal.reason` says which. */
  signal: AbortSignal;
  log: HandlerLogger;
  /** Report IN_PROGRESS details (rate-limited and sanitised by the agent). */
  progress(details: StatusDetails): void;
  job: JobInfo;
  document: Doc;
  /** A private, writable directory for this execution. */
  workDir: string;
  /** The safe process helper (argv, runAsUser, scrubbed env, bounded capture, group kill). */
  exec: ProcessRunner;
  /** Durable per-execution state, persisted before it resolves (for `resume` handlers). */
  saveState(state: Record<string, unknown>): Promise<void>;
  /** What `saveState` stored before a restart; undefined on a first run. */
  savedState: Record<string, unknown> | undefined;
  /** Handler options from the agent config (`handlers.options[name]`), frozen. */
  options: Readonly<Record<string, unknown>>;
  /** Open connections through here (the proxy configuration applies). */
  network: NetworkAccess;
  /** Present when the agent manages a provisioned identity (config `provisioning`). */
  identity?: IdentityControl;
}

export interface JobHandler<Doc = unknown> {
  /** The `operation` this handler serves. */
  name: string;
  /** What to do when the agent finds this handler's execution started but unfinished. Default `fail`. */
  restartPolicy?: RestartPolicy;
  /** Upper bound for one run; a job document may lower it (`timeoutSeconds`). */
  timeoutSeconds?: number;
  /**
   * Check the document before anything runs. Return (or resolve to) a string reason to REJECT the job;
   * throwing also rejects it, with the error's message.
   */
  validate?(document: unknown): string | void | Promise<string | void>;
  run(ctx: HandlerContext<Doc>): Promise<HandlerResult>;
  /** For `restartPolicy: "resume"`: decide the outcome of an execution interrupted by a restart. */
  resume?(ctx: HandlerContext<Doc>): Promise<HandlerResult>;
}
