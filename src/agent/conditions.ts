/**
 * What keeps the agent from its work on a device — a state directory it cannot write, a clock that
 * makes every certificate look invalid — said the same way in the log and in systemd's STATUS, so
 * an operator with nothing but `systemctl status` or the journal sees it (docs/RESILIENCE.md).
 */
import { errorMessage } from '../lib/errors';
import type { Logger } from '../lib/log';
import type { StoreHealth } from '../store/health';
import { clockTrouble } from './clock-trouble';
import type { CertificateWindow } from './clock-trouble';
import type { StatusText } from './status-text';

export class Conditions {
  constructor(
    private readonly log: Logger,
    private readonly status: StatusText,
    private readonly stateDirectory: string,
    private readonly certificate: CertificateWindow | undefined,
  ) {}

  storage(h: StoreHealth): void {
    const dir = this.stateDirectory;
    if (!h.writable) {
      this.log.error({ code: h.code, stateDirectory: dir, err: h.message }, 'the state directory cannot be written: no new job starts until it can; outcomes are kept in memory and still reported; retrying with backoff');
      this.status.setCondition('storage', `storage: ${h.code} in ${dir}, no new jobs until it can be written`);
    } else {
      this.log.info({ stateDirectory: dir }, 'the state directory can be written again: journal caught up, taking jobs');
      this.status.setCondition('storage', undefined);
    }
  }

  /** A failed connection attempt: is the clock (or the certificate's validity) the reason? */
  connectFailed(err: unknown, retryInMs: number): void {
    const kind = (err as { kind?: string }).kind;
    const time = clockTrouble(err, this.certificate, Date.now());
    if (time) {
      const { summary, ...times } = time;
      this.log.error({ err: errorMessage(err), kind, ...times, retryInMs }, `cannot connect: ${summary}; retrying, and at once when the clock changes`);
    } else this.log.error({ err: errorMessage(err), kind, retryInMs }, 'could not connect to the broker');
    this.status.setCondition('clock', time?.summary);
    this.proxy(err);
  }

  /** A non-fatal transport error, mostly a failed reconnect attempt (the transport retries by itself). */
  transportError(err: unknown): void {
    this.log.warn({ err: errorMessage(err), kind: (err as { kind?: string }).kind }, 'transport error; the transport retries by itself');
    this.proxy(err);
  }

  /** The proxy in the way shows in STATUS until a connection succeeds (the password never does: it is never in a message). */
  private proxy(err: unknown): void {
    const kind = (err as { kind?: string }).kind ?? '';
    // Errors of an established connection say nothing about the way to the broker.
    if (['listener-error', 'subscribe-refused', 'publish-refused'].includes(kind)) return;
    this.status.setCondition('proxy', kind.startsWith('proxy-') ? `proxy: ${errorMessage(err)}` : undefined);
  }

  connected(): void {
    this.status.setCondition('clock', undefined);
    this.status.setCondition('proxy', undefined);
  }

  clockJumped(jumpMs: number, nowMs: number): void {
    this.log.warn({ jumpMs, deviceTime: new Date(nowMs).toISOString() }, 'the wall clock jumped; deadlines are unaffected (they run on the monotonic clock)');
  }
}
