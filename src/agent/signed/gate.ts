/**
 * The check stage for signed job documents (docs/SIGNING.md): it runs on every
 * execution before anything else — before IN_PROGRESS and before a handler is chosen — and decides
 * run or REJECTED. Signatures, policy, binding, time window and URLs are the pure verifier's
 * (src/trust); this stage adds the device's memory — effective time, replay, rollback, the unsigned
 * rate limit, the accepted trust store — and writes it durably before it answers "run".
 */
import type { JobHandler } from '../../handlers/api';
import type { Details } from '../../jobs/types';
import type { Logger } from '../../lib/log';
import { checkReplay, checkSeq, effectiveTime, looksSigned, nextHighWater, nextSeqMark, substituteArtifacts, verdictDetails, verifyJob } from '../../trust';
import type { ClockSource, JobPayload, Reason, TrustStore, Verdict } from '../../trust';
import type { ArtifactStager } from './artifacts';
import type { Ledger, LedgerData } from './ledger';
import { prune } from './ledger';
import type { TrustHolder } from './trust-holder';
import { decideUnsigned, handlersOf } from './unsigned';
import type { AllowRule } from './unsigned';

export const TRUST_UPDATE_OP = 'trust-update';

export interface GateOptions {
  thingName: string;
  labels: readonly string[];
  mode: 'enforce' | 'audit';
  allowUnsigned: readonly AllowRule[];
  /** Seconds. */
  buildTime: number;
  trust: TrustHolder;
  ledger: Ledger;
  log: Logger;
  /** Downloads and checks artifacts; without it an envelope with artifacts cannot run here (FAILED). */
  artifacts?: ArtifactStager;
  nowMs?: () => number;
}

export interface GateInput {
  document: unknown;
  namespace: string;
  jobId: string;
  executionNumber: number;
  /** `timestamp` of the Jobs response that delivered the document. */
  responseTimestamp: number | undefined;
  /** The handler a document selects (undefined: none). */
  handlerOf(doc: unknown): string | undefined;
  /** Aborts an artifact download (the job was canceled, the agent stops). */
  signal?: AbortSignal;
}

/** What the agent remembers about an accepted envelope until its outcome. */
export interface Accepted {
  jti: string;
  seq?: JobPayload['seq'];
}

export type GateResult =
  /** Run `document` (the signed `doc`, or the unsigned document allowed); `details` go into the outcome. */
  | { run: true; document: unknown; details: Details; accepted?: Accepted; handler?: JobHandler; cleanup?: () => Promise<void> }
  /** Do not run: report `status` (REJECTED, or the outcome the ledger holds for this very execution). */
  | { run: false; status: 'REJECTED' | 'SUCCEEDED' | 'FAILED'; details: Details };

interface Ctx {
  now: number;
  clock: ClockSource;
}

export class TrustGate {
  constructor(private readonly o: GateOptions) {}

  get trustVersion(): number {
    return this.o.trust.current.version;
  }

  private rejected(store: TrustStore, reason: Reason, detail: string, kids: string[], payload?: JobPayload): Verdict {
    return { ok: false, reason, detail, kids, trustVersion: store.version, ...(payload ? { payload } : {}) };
  }

  /** A failed check: REJECTED, or in audit mode a run that reports what would have been rejected. */
  private async fail(v: Verdict & { ok: false }, ctx: Ctx, input: GateInput): Promise<GateResult> {
    const details = verdictDetails(v, { 'ija:clock': ctx.clock });
    const audit = this.o.mode === 'audit';
    this.o.log.warn({ jobId: input.jobId, reason: v.reason, detail: v.detail, kids: v.kids, mode: this.o.mode }, audit ? 'signature checks failed (audit mode: running anyway)' : 'job document refused');
    if (audit) return this.auditRun(v, details, input);
    const p = v.payload;
    if (p !== undefined) {
      // An authentic envelope, once REJECTED, never runs (whatever job it comes under later).
      await this.o.ledger.update((d) => {
        const e = d.jti[p.jti];
        d.jti[p.jti] = { jti: p.jti, jobId: p.job.id, executionNumber: e?.executionNumber ?? input.executionNumber, attempts: e?.attempts ?? 0, state: 'REJECTED', reported: true, exp: p.exp };
      });
    }
    return { run: false, status: 'REJECTED', details };
  }

  /**
   * Audit mode runs what enforce would refuse. An authentic envelope's doc still runs with its
   * artifacts on disk, never with `${artifact:…}` left in it: without the files it cannot run (FAILED).
   */
  private async auditRun(v: Verdict & { ok: false }, details: Details, input: GateInput): Promise<GateResult> {
    const p = v.payload;
    if (p === undefined) return { run: true, document: input.document, details };
    const cannot = (why: string): GateResult => ({ run: false, status: 'FAILED', details: { ...details, 'ija:detail': `${details['ija:detail'] ?? ''}; cannot run without the signed artifacts${why}` } });
    if (v.reason === 'artifact-digest-mismatch') return cannot('');
    const staged = await this.stage(p, input);
    if (!staged.ok) return cannot(`: ${staged.detail}`);
    return { run: true, document: staged.document, details, ...(staged.cleanup ? { cleanup: staged.cleanup } : {}) };
  }

  async check(input: GateInput): Promise<GateResult> {
    const { ledger } = this.o;
    const store = this.o.trust.current;
    const t = effectiveTime({ buildTime: this.o.buildTime, highWater: ledger.view.highWater, ...(validTs(input.responseTimestamp) ? { brokerTimestamp: input.responseTimestamp } : {}), systemNow: Math.floor((this.o.nowMs ?? Date.now)() / 1000) });
    const ctx: Ctx = { now: t.now, clock: t.source };
    if (!looksSigned(input.document)) return this.unsigned(input, ctx, store);
    const v = verifyJob({ document: input.document, trust: store, execution: { jobId: input.jobId, namespace: input.namespace }, identity: { thingName: this.o.thingName, labels: this.o.labels }, now: ctx.now });
    if (!v.ok) return this.fail(v, ctx, input);
    const p = v.payload;
    // The op's policy was checked: the document must not select another handler (an oncall key
    // signing op "reboot" over a document that runs exec). A document no loaded handler serves is
    // refused by the registry after this stage, as without signatures.
    const selected = p.op === TRUST_UPDATE_OP ? TRUST_UPDATE_OP : input.handlerOf(p.doc);
    if (selected !== undefined && selected !== p.op) {
      const what = `op ${JSON.stringify(p.op)} is not the handler the signed document selects (${selected ?? 'none'})`;
      return this.fail(this.rejected(store, 'malformed-envelope', what, v.kids, p) as Verdict & { ok: false }, ctx, input);
    }
    const r = checkReplay(ledger.view.jti[p.jti], p, input.executionNumber);
    if (r.action === 'reject') return this.fail(this.rejected(store, r.reason, r.detail, v.kids, p) as Verdict & { ok: false }, ctx, input);
    const s = checkSeq(p.seq ? ledger.view.seq[p.seq.stream] : undefined, p);
    if (!s.ok) return this.fail(this.rejected(store, s.reason, s.detail, v.kids, p) as Verdict & { ok: false }, ctx, input);
    const details = verdictDetails(v, { 'ija:clock': ctx.clock });
    if (r.action === 'report-stored') {
      // This very execution ended before a crash and was never reported: report it, never run it again.
      const state = ledger.view.jti[p.jti]?.state;
      return { run: false, status: state === 'SUCCEEDED' ? 'SUCCEEDED' : 'FAILED', details };
    }
    const staged = await this.stage(p, input);
    if (!staged.ok) {
      if (staged.reject) return this.fail(this.rejected(store, 'artifact-digest-mismatch', staged.detail, v.kids, p) as Verdict & { ok: false }, ctx, input);
      // Nothing ran and nothing is known about the object: FAILED, which an AWS retry may fetch again.
      this.o.log.warn({ jobId: input.jobId, detail: staged.detail }, 'artifact download failed');
      return { run: false, status: 'FAILED', details: { ...details, 'ija:detail': staged.detail } };
    }
    // 'run' is a first run or an AWS retry; 'interrupted' is this execution again after a restart, and
    // the journal (written after the ledger, before IN_PROGRESS) decides whether its handler may run again.
    await ledger.update((d) => {
      if (r.action === 'run') d.jti[p.jti] = { jti: p.jti, jobId: p.job.id, executionNumber: input.executionNumber, attempts: r.attempt, state: 'STARTED', reported: false, exp: p.exp };
      d.highWater = nextHighWater(d.highWater, ctx.now, p);
      prune(d, ctx.now);
    });
    this.o.log.info({ jobId: input.jobId, kids: v.kids, op: p.op, jti: p.jti, clock: ctx.clock, attempt: r.action === 'run' ? r.attempt : undefined }, 'signed job document accepted');
    const handler = v.trustUpdate ? this.trustUpdateHandler(v.trustUpdate) : undefined;
    return { run: true, document: staged.document, details, accepted: { jti: p.jti, ...(p.seq ? { seq: p.seq } : {}) }, ...(handler ? { handler } : {}), ...(staged.cleanup ? { cleanup: staged.cleanup } : {}) };
  }

  /** Step 10: the signed artifacts on disk, checked, and `doc` pointing at them. */
  private async stage(p: JobPayload, input: GateInput): Promise<{ ok: true; document: unknown; cleanup?: () => Promise<void> } | { ok: false; reject: boolean; detail: string }> {
    if (p.artifacts === undefined || Object.keys(p.artifacts).length === 0) return { ok: true, document: p.doc };
    const stager = this.o.artifacts;
    if (stager === undefined) return { ok: false, reject: false, detail: 'this agent cannot download artifacts' };
    const key = `${input.namespace || '_'}/${input.jobId}-${input.executionNumber}`;
    const urls = (input.document as { urls?: Record<string, string> }).urls;
    const r = await stager.stage(key, p, urls, input.signal);
    if (!r.ok) return r;
    return { ok: true, document: substituteArtifacts(p.doc, r.paths), cleanup: () => stager.remove(key) };
  }

  private async unsigned(input: GateInput, ctx: Ctx, store: TrustStore): Promise<GateResult> {
    const selected = input.handlerOf(input.document);
    const handlers = selected === undefined ? [] : handlersOf(input.document, selected);
    const d = selected === undefined ? { ok: false as const, detail: 'the document is not signed' } : decideUnsigned(handlers, this.o.allowUnsigned, this.o.ledger.view.unsigned, ctx.now);
    if (!d.ok) return this.fail(this.rejected(store, 'unsigned', d.detail, []) as Verdict & { ok: false }, ctx, input);
    await this.o.ledger.update((l) => {
      for (const h of d.handlers) l.unsigned[h] = ctx.now;
    });
    this.o.log.info({ jobId: input.jobId, handlers: d.handlers }, 'unsigned job document allowed by trust.allowUnsigned');
    const details: Details = { 'ija:detail': `unsigned; allowed by trust.allowUnsigned (${d.handlers.join(',')})`, 'ija:trustVersion': String(store.version), 'ija:clock': ctx.clock };
    return { run: true, document: input.document, details };
  }

  /** Records how an envelope's execution ended (the journal's outbox reports it): SUCCEEDED is never retried, and `seq` rises. */
  async outcome(a: Accepted, status: string): Promise<void> {
    if (this.o.ledger.view.jti[a.jti] === undefined) return;
    await this.o.ledger.update((d: LedgerData) => {
      const e = d.jti[a.jti];
      if (e === undefined) return;
      e.state = status === 'SUCCEEDED' ? 'SUCCEEDED' : status === 'REJECTED' ? 'REJECTED' : 'FAILED';
      e.reported = true;
      if (status === 'SUCCEEDED' && a.seq) {
        const mark = nextSeqMark(d.seq[a.seq.stream], { jti: a.jti, seq: a.seq });
        if (mark) d.seq[a.seq.stream] = mark;
      }
    });
  }

  /** The `trust-update` op is the agent's own: it keeps the new store (verified above) and reports its version. */
  private trustUpdateHandler(next: TrustStore): JobHandler {
    const { trust, log } = this.o;
    return {
      name: TRUST_UPDATE_OP,
      async run() {
        await trust.accept(next);
        log.info({ trustVersion: next.version }, 'trust store updated');
        return { status: 'SUCCEEDED', details: { 'ija:trustVersion': String(next.version) } };
      },
    };
  }
}

function validTs(ts: number | undefined): ts is number {
  return ts !== undefined && Number.isFinite(ts) && ts > 0;
}
