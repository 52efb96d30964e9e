/**
 * Certificate states at an external broker's door. A stock broker (mosquitto) authenticates by its
 * CA alone, so the sim keeps a CRL of every certificate its CA issued that may not connect, rewritten
 * atomically on every change (docs/PROVISIONING.md §2). mosquitto reads `crlfile` at start and on
 * SIGHUP only, not per connection, and keeps open connections on reload; so, when told how, the sim
 * reloads the broker, proves the new list is in force, and (opt-in) takes over the client ids of the
 * things whose certificate just lost the right to connect, which makes the broker drop them.
 */
import { execFile } from 'node:child_process';
import { connectAsync } from 'mqtt';
import type { IClientOptions } from 'mqtt';
import { Backoff, sleep } from '../../lib/backoff';
import { atomicWriteFile } from '../../lib/fsutil';
import type { Logger } from '../../lib/log';
import { issueCert } from '../../lib/pki';
import type { KeyPairPem } from '../../lib/pki';
import type { CertificateStore } from '../registry/certificates';
import { RevocationList } from '../registry/revocation';

export interface BrokerReload {
  /** Send SIGHUP to this process (mosquitto's reload). */
  pid?: number;
  /** Or run this shell command (e.g. `systemctl reload mosquitto`). */
  command?: string;
}

export interface BrokerDoor {
  url: string;
  ca: Buffer;
  /** The service's own credentials on the broker (for taking over a client id). */
  cert: Buffer;
  key: Buffer;
}

export interface CrlKeeperOptions {
  file: string;
  ca: KeyPairPem;
  certs: CertificateStore;
  log: Logger;
  reload?: BrokerReload;
  /** Where the broker listens; needed to prove a reload and to take connections over. */
  broker?: BrokerDoor;
  /** Drop live connections of a certificate that stops being usable (client id = thing name). */
  takeover?: boolean;
}

const APPLY_TIMEOUT_MS = 10_000;

export class CrlKeeper {
  private readonly list: RevocationList;
  private lastKey: string | undefined;
  private allowedBefore = new Set<string>();
  private dirty = false;
  private running: Promise<void> | undefined;
  private readonly stop: () => void;
  private closed = false;

  constructor(private readonly o: CrlKeeperOptions) {
    this.list = new RevocationList(o.ca);
    this.stop = o.certs.onChange(() => this.schedule());
  }

  /** Writes the list, nothing more: a broker with `crlfile` does not start without one. */
  async prepare(): Promise<void> {
    const entries = this.list.entries(this.o.certs.denied());
    await atomicWriteFile(this.o.file, await this.list.render(entries), 0o644);
  }

  /** From now on every change is written, and applied at the broker when a reload is configured. */
  async start(): Promise<void> {
    this.allowedBefore = this.allowedNow();
    this.schedule();
    await this.settled();
  }

  /** Resolves once every change so far is written (and, with a reload, in force at the broker). */
  async settled(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  close(): void {
    this.closed = true;
    this.stop();
  }

  private schedule(): void {
    this.dirty = true;
    if (this.running !== undefined || this.closed) return;
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
  }

  private async loop(): Promise<void> {
    while (this.dirty && !this.closed) {
      this.dirty = false;
      try {
        await this.apply();
      } catch (err) {
        this.o.log.error({ err: (err as Error).message, file: this.o.file }, 'could not bring the broker CRL up to date');
      }
    }
  }

  private allowedNow(): Set<string> {
    const denied = new Set(this.o.certs.denied().map((d) => d.certificateId));
    return new Set(this.o.certs.listed().filter((c) => !denied.has(c.certificateId)).map((c) => c.certificateId));
  }

  private async apply(): Promise<void> {
    const denied = this.o.certs.denied();
    const entries = this.list.entries(denied);
    const key = RevocationList.keyOf(entries);
    const dropped = denied.filter((d) => this.allowedBefore.has(d.certificateId));
    this.allowedBefore = this.allowedNow();
    if (key === this.lastKey) return;
    const probe = this.canProve() ? await issueCert(this.o.ca, { commonName: 'jobs-service-crl-probe', days: 1 }) : undefined;
    const probeEntry = probe === undefined ? [] : [RevocationList.entryOf(probe.certPem)];
    await atomicWriteFile(this.o.file, await this.list.render([...entries, ...probeEntry]), 0o644);
    this.lastKey = key;
    this.o.log.info({ file: this.o.file, listed: entries.length }, 'broker CRL written');
    if (this.o.reload === undefined) return;
    await this.reload();
    if (probe !== undefined && this.o.broker !== undefined) await this.proveApplied(this.o.broker, probe);
    if (this.o.takeover === true && this.o.broker !== undefined) await this.takeOver(this.o.broker, dropped.map((d) => d.certificateId));
  }

  private canProve(): boolean {
    return this.o.reload !== undefined && this.o.broker !== undefined;
  }

  private async reload(): Promise<void> {
    const r = this.o.reload ?? {};
    if (r.pid !== undefined) process.kill(r.pid, 'SIGHUP');
    if (r.command !== undefined) {
      const cmd = r.command;
      await new Promise<void>((resolve, reject) => {
        execFile('/bin/sh', ['-c', cmd], { timeout: APPLY_TIMEOUT_MS }, (err, _out, stderr) =>
          err ? reject(new Error(`broker reload command failed: ${err.message} ${stderr.trim()}`)) : resolve(),
        );
      });
    }
  }

  /**
   * The new list holds once the broker refuses this generation's probe certificate, which only the
   * new list names. A refusal after the TLS handshake (CONNACK) still means the list is not in force.
   */
  private async proveApplied(door: BrokerDoor, probe: KeyPairPem): Promise<void> {
    const backoff = new Backoff({ baseMs: 20, maxMs: 500, jitter: 'equal' });
    const deadline = Date.now() + APPLY_TIMEOUT_MS;
    while (Date.now() < deadline && !this.closed) {
      if (await this.refusedAtTls(door, probe)) return;
      await sleep(backoff.next());
    }
    this.o.log.warn({ broker: door.url, file: this.o.file }, 'the broker still accepts a certificate the CRL lists: is crlfile set on its listener?');
  }

  private async refusedAtTls(door: BrokerDoor, probe: KeyPairPem): Promise<boolean> {
    const opts: IClientOptions = { ca: door.ca, cert: probe.certPem, key: probe.keyPem, clientId: `jobs-service-crl-probe-${process.pid}`, ...once };
    try {
      const c = await connectAsync(door.url, opts, false);
      await c.endAsync(true);
      return false;
    } catch (err) {
      // mqtt.js gives a CONNACK refusal a numeric code; a TLS alert is a string code or none.
      return typeof (err as { code?: unknown }).code !== 'number';
    }
  }

  /** Taking over a client id makes an MQTT broker close the connection holding it (MQTT 3.1.1 §3.1.4). */
  private async takeOver(door: BrokerDoor, certificateIds: readonly string[]): Promise<void> {
    const things = new Set(certificateIds.flatMap((id) => this.o.certs.get(id)?.things ?? []));
    for (const thing of things) {
      try {
        const c = await connectAsync(door.url, { ca: door.ca, cert: door.cert, key: door.key, clientId: thing, ...once }, false);
        await c.endAsync(true);
        this.o.log.info({ thing }, 'dropped the live connection of a thing whose certificate may no longer connect');
      } catch (err) {
        this.o.log.warn({ thing, err: (err as Error).message }, 'could not take over the client id of a thing whose certificate may no longer connect');
      }
    }
  }
}

const once: IClientOptions = { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, clean: true, rejectUnauthorized: true };
