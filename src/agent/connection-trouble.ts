/**
 * Trouble the broker causes the connection, said in the log, in STATUS and in connection.json (for
 * `status`): another client using this client id (a cloned image, a second agent, a Greengrass
 * nucleus), and operations the IoT policy refuses. See docs/INSTALL.md on cloned images.
 */
import { errorMessage } from '../lib/errors';
import type { Logger } from '../lib/log';
import type { Denial, TakeOver } from '../transport/types';
import { ConnectionFileWriter, type ConnectionRecord } from './connection-file';
import type { StatusText } from './status-text';

const WHAT_TO_CHECK =
  'check for an image cloned after this device got its identity (every clone then connects as this thing), ' +
  'a second copy of the agent on this device, or a Greengrass nucleus or another client configured with this client id';

export class ConnectionTrouble {
  private record: ConnectionRecord = { updatedAt: new Date().toISOString() };
  private readonly file: ConnectionFileWriter;

  constructor(
    private readonly log: Logger,
    private readonly status: StatusText,
    stateDirectory: string,
    private readonly clientId: string,
  ) {
    this.file = new ConnectionFileWriter(stateDirectory);
  }

  /** At start: no trouble known yet (a record from an earlier run is stale). */
  reset(): Promise<void> {
    return this.save();
  }

  takenOver(t: TakeOver): void {
    const now = new Date().toISOString();
    const prev = this.record.takeOver;
    const retry = t.retryInMs !== undefined ? `; reconnecting in ${(t.retryInMs / 1000).toFixed(1)} s` : '';
    this.log.error(
      { clientId: this.clientId, certain: t.certain, evidence: t.evidence, retryInMs: t.retryInMs, takeOvers: (prev?.count ?? 0) + 1 },
      `duplicate client id ${this.clientId}${t.certain ? '' : ' (likely)'}: another device or process uses this identity and the broker closed our connection; ${WHAT_TO_CHECK}${retry}`,
    );
    this.status.setCondition('identity', `duplicate client id ${this.clientId}${t.certain ? '' : ' (likely)'}: another device or process uses this identity`);
    this.record.takeOver = {
      clientId: this.clientId,
      certain: t.certain || (prev?.certain ?? false),
      evidence: t.evidence,
      since: prev?.since ?? now,
      last: now,
      count: (prev?.count ?? 0) + 1,
      ...(t.retryInMs !== undefined ? { retryInMs: t.retryInMs } : {}),
    };
    void this.save();
  }

  /** The connection outlived the take-over back-off: the other client has gone. */
  settled(): void {
    if (!this.record.takeOver) return;
    this.log.info({ clientId: this.clientId, takeOvers: this.record.takeOver.count }, `no other client has used client id ${this.clientId} for a full take-over back-off: the connection is settled`);
    this.status.setCondition('identity', undefined);
    delete this.record.takeOver;
    void this.save();
  }

  denied(d: Denial): void {
    const arn = `arn:aws:iot:REGION:ACCOUNT:${d.resource}`;
    this.log.error(
      { clientId: this.clientId, operation: d.operation, topic: d.topic, policyAction: d.policyAction, resource: arn, likely: d.likely, evidence: d.evidence },
      `${d.likely ? 'likely ' : ''}denied by the IoT policy: ${d.operation} to ${d.topic} needs ${d.policyAction} on ${arn} (docs/INSTALL.md "IoT policy"); this is not another client using this identity`,
    );
    this.status.setCondition('policy', `${d.likely ? 'likely ' : ''}denied ${d.operation} to ${d.topic}: the IoT policy must allow ${d.policyAction}`);
    this.record.denial = { operation: d.operation, topic: d.topic, policyAction: d.policyAction, resource: d.resource, likely: d.likely, evidence: d.evidence, at: new Date().toISOString() };
    void this.save();
  }

  /** Requests work again (a pending-jobs listing succeeded): the denial no longer holds the agent up. */
  requestsWork(): void {
    if (!this.record.denial) return;
    this.status.setCondition('policy', undefined);
    delete this.record.denial;
    void this.save();
  }

  idle(): Promise<void> {
    return this.file.idle();
  }

  private save(): Promise<void> {
    this.record = { ...this.record, updatedAt: new Date().toISOString() };
    return this.file.write(this.record, (err) => this.log.warn({ err: errorMessage(err) }, 'could not write connection.json (status will not show connection trouble)'));
  }
}
