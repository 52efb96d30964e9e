/**
 * The AWS IoT Device Client 1.10.19's side of the Jobs wire, replayed packet for packet with mqtt.js
 * (source/jobs/JobsFeature.cpp, and what it did against the sim when run as a device). Each quoted
 * behaviour below is what the Device Client does; nothing here is what our own agent does.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'mqtt';
import type { IClientPublishOptions, MqttClient } from 'mqtt';
import type { CertFiles } from './pki';

export interface DcExecution {
  jobId: string;
  executionNumber: number;
  status: string;
  versionNumber: number;
  jobDocument: Record<string, unknown>;
}

export interface DcEndpoint {
  url: string;
  caFile: string;
  files: CertFiles;
}

export interface DcOutcome {
  status: 'SUCCEEDED' | 'FAILED';
  reason?: string;
  stdout?: string;
  stderr?: string;
}

/**
 * What the device does with a job; its output goes into the terminal update as the Device Client's
 * does. `undefined`: the command is still running (the process is killed before it ends).
 */
export type DcRun = (e: DcExecution) => DcOutcome | undefined;

export interface DcWireLog {
  /** Every message received, with the QoS it arrived at. */
  received: { topic: string; qos: number; payload: Record<string, unknown> }[];
  /** Every request published. */
  sent: { topic: string; payload: Record<string, unknown> }[];
  /** The jobs the device ran, in order (a job run twice appears twice). */
  ran: string[];
  /** The ALPN protocol the TLS handshake selected (false: none). */
  alpn: string | false;
}

const SUFFIXES = ['start-next/accepted', 'start-next/rejected', 'notify-next', '+/update/accepted', '+/update/rejected'];

/**
 * "Its duplicate-notification check compares documents after normalising virtual-hosted S3 URLs
 * only": the query string of `https://BUCKET.s3.REGION.amazonaws.com/KEY?…` is dropped before job
 * id, document and execution number are compared with the last job it took.
 */
export function dcNormalise(doc: unknown): string {
  return JSON.stringify(doc).replace(/(https:\/\/[a-z0-9.-]+\.s3[.-][a-z0-9.-]*amazonaws\.com\/[^?"]*)\?[^"]*/g, '$1');
}

export class DeviceClientWire {
  readonly log: DcWireLog = { received: [], sent: [], ran: [], alpn: false };
  private client: MqttClient | undefined;
  private last: { jobId: string; doc: string; executionNumber: number } | undefined;
  private readonly waiters: { check: () => boolean; resolve: () => void }[] = [];

  constructor(
    private readonly ep: DcEndpoint,
    private readonly thing: string,
    private readonly run: DcRun,
  ) {}

  private topic(suffix: string): string {
    return `$aws/things/${this.thing}/jobs/${suffix}`;
  }

  /**
   * "CONNECT: client id = thing name, clean session false, keep-alive 1200 s, MQTT 3.1.1, username
   * `?SDK=IoTDeviceClient&Version=…`" over TLS with ALPN `x-amzn-mqtt-ca`; then "five SUBSCRIBEs
   * at QoS 1, one filter each" and "one `start-next` with payload `{}` and no clientToken".
   */
  async start(): Promise<void> {
    const url = new URL(this.ep.url);
    const client = connect({
      protocol: 'mqtts',
      host: url.hostname,
      port: Number(url.port),
      clientId: this.thing,
      clean: false,
      keepalive: 1200,
      protocolVersion: 4,
      username: '?SDK=IoTDeviceClient&Version=1.10.19',
      ca: readFileSync(this.ep.caFile),
      cert: readFileSync(this.ep.files.certificateFile),
      key: readFileSync(this.ep.files.privateKeyFile),
      rejectUnauthorized: true,
      ALPNProtocols: ['x-amzn-mqtt-ca'],
      reconnectPeriod: 0,
    });
    this.client = client;
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet.qos));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    const sock = client.stream as unknown as { alpnProtocol?: string | false };
    this.log.alpn = sock.alpnProtocol ?? false;
    for (const s of SUFFIXES) await client.subscribeAsync(this.topic(s), { qos: 1 });
    await this.publish('start-next', {});
  }

  /** Gone without a DISCONNECT, as when the process is killed. */
  kill(): void {
    this.client?.stream.destroy();
    this.client?.end(true);
    this.client = undefined;
  }

  async stop(): Promise<void> {
    await this.client?.endAsync();
    this.client = undefined;
  }

  /** Resolves once `check` holds after some message arrived (or at once). */
  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ check, resolve }));
  }

  private async publish(suffix: string, payload: Record<string, unknown>): Promise<void> {
    this.log.sent.push({ topic: suffix, payload });
    const opts: IClientPublishOptions = { qos: 1 };
    await this.client?.publishAsync(this.topic(suffix), JSON.stringify(payload), opts);
  }

  private onMessage(topic: string, payload: Buffer, qos: number): void {
    const body = JSON.parse(payload.toString()) as Record<string, unknown>;
    this.log.received.push({ topic: topic.slice(this.topic('').length), qos, payload: body });
    const suffix = topic.slice(this.topic('').length);
    // "after that, it is driven only by notify-next" (and the answer to its one start-next).
    if ((suffix === 'start-next/accepted' || suffix === 'notify-next') && body.execution !== undefined) this.take(body.execution as DcExecution);
    for (const w of [...this.waiters]) {
      if (w.check()) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  private take(e: DcExecution): void {
    const doc = dcNormalise(e.jobDocument);
    const l = this.last;
    if (l !== undefined && l.jobId === e.jobId && l.doc === doc && l.executionNumber === e.executionNumber) return;
    this.last = { jobId: e.jobId, doc, executionNumber: e.executionNumber };
    this.log.ran.push(e.jobId);
    // "`{job}/update` with `{"status":"IN_PROGRESS","clientToken":"<10 chars>","statusDetails":{}}`,
    // with no `expectedVersion`. It runs the job at once, without waiting for the answer."
    void this.publish(`${e.jobId}/update`, { status: 'IN_PROGRESS', statusDetails: {}, clientToken: token() });
    const out = this.run(e);
    if (out === undefined) return;
    // "The terminal update carries `statusDetails` `{reason, stdout, stderr}`" — each only when not empty.
    const details: Record<string, string> = {};
    if (out.reason) details.reason = out.reason;
    if (out.stdout) details.stdout = out.stdout;
    if (out.stderr) details.stderr = out.stderr;
    void this.publish(`${e.jobId}/update`, { status: out.status, statusDetails: details, clientToken: token() });
  }
}

function token(): string {
  return Math.random().toString(36).slice(2, 12).padEnd(10, '0');
}
