/**
 * `{stateDirectory}/connection.json`: what the agent knows about its connection that an operator
 * cannot see elsewhere — another client using this client id, a topic the IoT policy refuses — so
 * `iot-jobs-agent status` can say it while the agent runs (STATUS= says it to systemd).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteFile } from '../lib/fsutil';

export const CONNECTION_FILE = 'connection.json';

export interface TakeOverRecord {
  clientId: string;
  /** false: inferred from MQTT 3.1.1 closes ("likely"). */
  certain: boolean;
  evidence: string;
  /** ISO times of the first and latest take-over since the last settled connection. */
  since: string;
  last: string;
  count: number;
  retryInMs?: number;
}

export interface DenialRecord {
  operation: 'publish' | 'subscribe';
  topic: string;
  policyAction: string;
  resource: string;
  likely: boolean;
  evidence: string;
  at: string;
}

export interface ConnectionRecord {
  updatedAt: string;
  takeOver?: TakeOverRecord;
  denial?: DenialRecord;
}

export function connectionFile(stateDirectory: string): string {
  return join(stateDirectory, CONNECTION_FILE);
}

/** Undefined when the file is missing or unreadable: no known trouble. */
export async function readConnectionRecord(stateDirectory: string): Promise<ConnectionRecord | undefined> {
  try {
    const data = JSON.parse(await readFile(connectionFile(stateDirectory), 'utf8')) as unknown;
    return typeof data === 'object' && data !== null ? (data as ConnectionRecord) : undefined;
  } catch {
    return undefined;
  }
}

/** Writes are serialised and atomic; a failure is the caller's to log (the agent keeps working). */
export class ConnectionFileWriter {
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly stateDirectory: string) {}

  write(record: ConnectionRecord, onError: (err: unknown) => void): Promise<void> {
    const text = `${JSON.stringify(record, null, 2)}\n`;
    this.chain = this.chain.then(() => atomicWriteFile(connectionFile(this.stateDirectory), text, 0o644)).catch(onError);
    return this.chain;
  }

  idle(): Promise<void> {
    return this.chain;
  }
}

/** One line for `status`, or undefined when nothing is wrong. */
export function describeConnection(r: ConnectionRecord | undefined): string[] {
  const out: string[] = [];
  const t = r?.takeOver;
  if (t) {
    out.push(
      `connection: PROBLEM duplicate client id ${t.clientId}${t.certain ? '' : ' (likely)'}: another device or process uses this identity ` +
        `(${t.count} take-over(s) since ${t.since}, last ${t.last}); check for a cloned image, a second agent, or a Greengrass nucleus with this client id`,
    );
  }
  const d = r?.denial;
  if (d) {
    out.push(`connection: PROBLEM ${d.likely ? 'likely ' : ''}denied ${d.operation} to ${d.topic} (at ${d.at}): the IoT policy must allow ${d.policyAction} on arn:aws:iot:REGION:ACCOUNT:${d.resource}`);
  }
  return out;
}
