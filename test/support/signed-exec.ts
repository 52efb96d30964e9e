/**
 * One execution through the agent's real check stage, journal and ledger (files in a temporary
 * directory), with handlers that record that they started. The Jobs service is an in-memory
 * stand-in that answers describe with the document and records every update: what is under test
 * is what the agent decides before anything runs, not the wire.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Execution } from '../../src/agent/execution';
import type { ExecutionEvent, RunMode } from '../../src/agent/execution';
import { mapRegistry } from '../../src/agent/registry';
import type { ArtifactStager } from '../../src/agent/signed/artifacts';
import { TrustGate } from '../../src/agent/signed/gate';
import { Ledger } from '../../src/agent/signed/ledger';
import { TrustHolder } from '../../src/agent/signed/trust-holder';
import type { HandlerResult, JobHandler, ProcessRunner } from '../../src/handlers/api';
import { chooseHandler, DEVICE_CLIENT_HANDLER } from '../../src/handlers/document';
import type { JobsApi } from '../../src/jobs/api';
import type { UpdateReq } from '../../src/jobs/types';
import { silentLogger } from '../../src/lib/log';
import { openStateStore } from '../../src/store/file-store';
import type { StateStore } from '../../src/store/types';
import type { TrustStoreDoc } from '../../src/trust';
import { NOW } from './trust';

export const HANDLERS = ['run-script', 'install-package', 'run-command', 'reboot', 'exec', DEVICE_CLIENT_HANDLER] as const;

export interface GateSetup {
  mode?: 'enforce' | 'audit';
  labels?: string[];
  allowUnsigned?: { handler: string; minIntervalSeconds: number }[];
  /** Effective-time inputs: the agent's wall clock (ms) and its build time (s). */
  systemNowMs?: number;
  buildTime?: number;
  /** Downloads artifacts (default: none; an envelope with artifacts then cannot run). */
  artifacts?: ArtifactStager;
}

export interface RunOpts {
  namespace?: string;
  mode?: RunMode;
  /** The Jobs response `timestamp` (default NOW; undefined: none). */
  timestamp?: number | null;
  queuedAt?: number;
  /** What each handler returns this time (default SUCCEEDED). */
  result?: HandlerResult;
}

export interface RunOutcome {
  status: string | undefined;
  details: Record<string, string>;
  /** IN_PROGRESS updates sent: none for anything refused before it ran. */
  inProgress: number;
}

export class SignedHarness {
  /** Handler names in the order they started. */
  readonly started: string[] = [];
  /** The document each started handler was given. */
  readonly documents: unknown[] = [];
  private result: HandlerResult = { status: 'SUCCEEDED' };

  private constructor(
    readonly dir: string,
    readonly storeFile: string,
    private setup: GateSetup,
    private store: StateStore,
    public gate: TrustGate,
  ) {}

  static async create(trust: TrustStoreDoc, setup: GateSetup = {}): Promise<SignedHarness> {
    const dir = await mkdtemp(join(tmpdir(), 'ija-gate-'));
    const storeFile = join(dir, 'trust.json');
    await writeFile(storeFile, JSON.stringify(trust), { mode: 0o644 });
    const store = await openStateStore(join(dir, 'journal'));
    const h = new SignedHarness(dir, storeFile, setup, store, undefined as never);
    h.gate = await h.openGate();
    return h;
  }

  /** A fresh gate over the same files: what a restarted agent sees. */
  async restart(setup: GateSetup = this.setup): Promise<void> {
    this.setup = setup;
    this.gate = await this.openGate();
  }

  private async openGate(): Promise<TrustGate> {
    const log = silentLogger();
    const trust = await TrustHolder.open(this.storeFile, join(this.dir, 'state', 'trust'), log);
    const ledger = await Ledger.open(join(this.dir, 'state', 'trust'));
    const s = this.setup;
    return new TrustGate({
      thingName: 'gw-1',
      labels: s.labels ?? [],
      mode: s.mode ?? 'enforce',
      allowUnsigned: s.allowUnsigned ?? [],
      buildTime: s.buildTime ?? 0,
      trust,
      ledger,
      log,
      ...(s.artifacts ? { artifacts: s.artifacts } : {}),
      nowMs: () => s.systemNowMs ?? NOW * 1000,
    });
  }

  private handler(name: string): JobHandler {
    return {
      name,
      run: (ctx) => {
        this.started.push(name);
        this.documents.push(ctx.document);
        return Promise.resolve(this.result);
      },
    };
  }

  async run(jobId: string, executionNumber: number, document: unknown, o: RunOpts = {}): Promise<RunOutcome> {
    this.result = o.result ?? { status: 'SUCCEEDED' };
    const ns = o.namespace ?? '';
    const updates: UpdateReq[] = [];
    const timestamp = o.timestamp === undefined ? NOW : o.timestamp;
    const api: JobsApi = {
      getPending: () => Promise.reject(new Error('not used')),
      startNext: () => Promise.reject(new Error('not used')),
      describe: () =>
        Promise.resolve({
          ...(timestamp === null ? {} : { timestamp }),
          execution: { jobId, executionNumber, queuedAt: o.queuedAt ?? NOW - 10, lastUpdatedAt: NOW - 10, versionNumber: 1, status: o.mode && o.mode !== 'fresh' ? 'IN_PROGRESS' : 'QUEUED', jobDocument: document },
        } as never),
      update: (_id, req) => {
        updates.push(req);
        return Promise.resolve({ timestamp: NOW });
      },
      close: () => Promise.resolve(),
    };
    const map = new Map(HANDLERS.map((n) => [n, this.handler(n)] as const));
    const events: ExecutionEvent[] = [];
    const exec = new Execution(
      { namespace: ns, jobId, executionNumber, queuedAt: o.queuedAt ?? NOW - 10, mode: o.mode ?? 'fresh' },
      {
        thingName: 'gw-1',
        apiFor: () => api,
        store: this.store,
        registry: mapRegistry(map, chooseHandler),
        exec: {} as ProcessRunner,
        log: silentLogger(),
        workRoot: join(this.dir, 'work'),
        requestTimeoutMs: 1000,
        progressIntervalMs: 60_000,
        defaultTimeoutSeconds: 60,
        optionsFor: () => ({}),
        kickOutbox: () => undefined,
        emit: (e) => events.push(e),
        gate: this.gate,
      },
    );
    const done = await exec.done;
    if (done !== 'settled') throw new Error(`execution ${jobId}#${executionNumber} did not settle (${done})`);
    const end = events.find((e) => e.type === 'finished' || e.type === 'rejected');
    return { status: end?.status, details: end?.details ?? {}, inProgress: updates.filter((u) => u.status === 'IN_PROGRESS').length };
  }

  async close(): Promise<void> {
    await this.store.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
