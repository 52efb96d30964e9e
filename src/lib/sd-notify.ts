/**
 * sd_notify(3) for systemd Type=notify services: READY=1, WATCHDOG=1, STATUS=, STOPPING=1.
 *
 * Why `systemd-notify` and not a socket: the protocol is one AF_UNIX SOCK_DGRAM datagram, and Node
 * has no unix datagram sockets (node:dgram is UDP only; node:net is stream only and fails with
 * EPROTOTYPE on a datagram socket). The other ways are a native addon (a compiler or prebuilt
 * binary per architecture on every device) or a helper runtime (python, socat) that a minimal
 * device image may lack. systemd-notify ships with systemd itself, so wherever NOTIFY_SOCKET is set
 * it exists. It waits (BARRIER=1, systemd >= 246) until the manager has processed the message, so
 * the message is attributed to our service even though the sender exits right after.
 *
 * The cost: the sender is a child process, so the unit needs NotifyAccess=all (NotifyAccess=main
 * would drop these messages). Job processes run in the same cgroup and could therefore notify too;
 * job processes start with a scrubbed environment without NOTIFY_SOCKET, and a forged WATCHDOG=1 can at
 * worst delay a restart. See systemd/README.md.
 */
import type * as ChildProcess from 'node:child_process';

export interface SdNotifier {
  /** True when NOTIFY_SOCKET is set (we run under systemd with Type=notify). */
  readonly enabled: boolean;
  /** How often to call watchdog(): half of WatchdogSec, when the watchdog is meant for this process. */
  readonly watchdogIntervalMs?: number;
  ready(status?: string): Promise<void>;
  watchdog(): Promise<void>;
  status(text: string): Promise<void>;
  stopping(status?: string): Promise<void>;
}

export interface SdNotifyOptions {
  /** The systemd-notify executable (default: found on PATH). */
  command?: string;
  /** Bound on one notification, so a wedged manager never blocks shutdown (default 5000 ms). */
  timeoutMs?: number;
  /** Notifications are best effort: failures are reported here, never thrown. */
  onError?: (msg: string) => void;
}

/** WATCHDOG_USEC applies to us unless WATCHDOG_PID names another process. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid = process.pid): number | undefined {
  const usecText = env.WATCHDOG_USEC;
  if (usecText === undefined || !/^\d+$/.test(usecText)) return undefined;
  const usec = Number(usecText);
  if (usec <= 0) return undefined;
  const owner = env.WATCHDOG_PID;
  if (owner !== undefined && owner !== '' && Number(owner) !== pid) return undefined;
  // sd_watchdog_enabled(3): ping at half the timeout, never less often.
  return Math.max(1, Math.floor(usec / 2000));
}

/** Values end at a newline in the protocol; a status text must not smuggle in another assignment. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 1024);
}

export function createSdNotifier(env: NodeJS.ProcessEnv = process.env, opts: SdNotifyOptions = {}): SdNotifier {
  const socket = env.NOTIFY_SOCKET;
  const enabled = socket !== undefined && socket !== '';
  const command = opts.command ?? 'systemd-notify';
  const timeout = opts.timeoutMs ?? 5000;
  const onError = opts.onError ?? (() => undefined);
  let chain: Promise<void> = Promise.resolve();
  let watchdogQueued = false;

  const send = (assignments: string[]): Promise<void> =>
    new Promise<void>((resolve) => {
      const childEnv = { NOTIFY_SOCKET: socket, PATH: env.PATH ?? '/usr/bin:/bin' };
      // node:child_process loads with the first notification: none without systemd.
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazy loading is the point
      (require('node:child_process') as typeof ChildProcess).execFile(command, assignments, { env: childEnv, timeout, killSignal: 'SIGKILL' }, (err, _stdout, stderr) => {
        if (err) onError(`sd_notify ${assignments.join(' ')} failed: ${stderr.trim() || err.message}`);
        resolve();
      });
    });

  // One at a time, in call order: READY must never overtake an earlier STATUS, nor STOPPING a READY.
  const enqueue = (assignments: string[]): Promise<void> => {
    if (!enabled) return Promise.resolve();
    chain = chain.then(() => send(assignments));
    return chain;
  };

  const withStatus = (base: string, status?: string) => (status === undefined ? [base] : [base, `STATUS=${oneLine(status)}`]);
  const interval = watchdogIntervalMs(env);
  return {
    enabled,
    ...(interval === undefined ? {} : { watchdogIntervalMs: interval }),
    ready: (status) => enqueue(withStatus('READY=1', status)),
    status: (text) => enqueue([`STATUS=${oneLine(text)}`]),
    stopping: (status) => enqueue(withStatus('STOPPING=1', status)),
    watchdog: () => {
      // A ping already waiting in the queue serves this one too; never let pings pile up.
      if (!enabled || watchdogQueued) return chain;
      watchdogQueued = true;
      return enqueue(['WATCHDOG=1']).finally(() => {
        watchdogQueued = false;
      });
    },
  };
}
