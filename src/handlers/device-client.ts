/**
 * `device-client-steps`: runs AWS IoT Device Client job documents (see document.ts) step by step
 * with the safe process helper or, for the managed-template scripts, our built-in handlers.
 * The step about to run is saved first, so after a restart `resume` knows where it stopped: a
 * built-in that can resume (reboot, agent restart) decides its step, a re-runnable one runs again,
 * anything else fails as interrupted — a step is never silently run twice.
 */
import type { HandlerContext, HandlerResult, JobHandler, StatusDetails } from './api';
import { DEVICE_CLIENT_HANDLER, parseDeviceClientDocument, type DeviceClientPlan, type PlanStep } from './document';
import { isRejectError, RejectError } from './errors';
import { detailTail, lineCount } from './sanitize';
import { resolveUser } from './users';

export interface DeviceClientHandlerOptions {
  /** `handlers.scriptDirectories`. */
  scriptDirectories: readonly string[];
  /** The loaded handlers (looked up when a document runs, so the registry may include this handler). */
  handlers: () => ReadonlyMap<string, JobHandler<unknown>>;
  /** Each built-in step gets its own handler's options (see `handlerOptions` in registry.ts). */
  optionsFor?: (handler: string) => Readonly<Record<string, unknown>>;
}

interface StepOutcome {
  ok: boolean;
  details: StatusDetails;
}

type Ctx = HandlerContext<unknown>;

function processStepArgv(step: PlanStep): string[] {
  const a = step.action;
  // Device Client scripts take the user as $1 and `sudo -u` to it; we already run them as that user, so $1 is empty.
  if (a.type === 'script') return [a.file, '', ...a.args];
  if (a.type === 'command') return a.argv;
  return [];
}

async function runProcessStep(ctx: Ctx, step: PlanStep): Promise<StepOutcome> {
  const r = await ctx.exec.run(processStepArgv(step), { runAsUser: step.runAsUser, signal: ctx.signal });
  if (r.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('aborted');
  const details: StatusDetails = { exitStatus: r.description };
  if (step.includeStdOut && r.stdout.trim()) details.stdout = detailTail(r.stdout);
  const errLines = lineCount(r.stderr);
  const stderrOk = step.allowStdErr === undefined || errLines <= step.allowStdErr;
  const ok = r.exitCode === 0 && stderrOk;
  if (!ok && r.stderr.trim()) details.stderr = detailTail(r.stderr);
  if (!ok) details.reason = r.exitCode === 0 ? `${errLines} lines on stderr (allowStdErr ${step.allowStdErr ?? 0})` : r.description;
  return { ok, details };
}

function builtinContext(ctx: Ctx, opts: DeviceClientHandlerOptions, step: PlanStep, index: number, savedInner?: Record<string, unknown>): Ctx {
  const a = step.action;
  if (a.type !== 'builtin') throw new Error('not a built-in step');
  const document = step.runAsUser === undefined ? a.document : { ...a.document, runAsUser: step.runAsUser };
  return {
    ...ctx,
    document,
    options: opts.optionsFor?.(a.handler) ?? Object.freeze({}),
    savedState: savedInner,
    saveState: (state) => ctx.saveState({ step: index, inner: state }),
  };
}

function builtinHandler(opts: DeviceClientHandlerOptions, step: PlanStep): JobHandler<unknown> {
  const name = step.action.type === 'builtin' ? step.action.handler : '';
  const h = opts.handlers().get(name);
  if (!h) throw new RejectError(`built-in handler ${name} is not available`);
  return h;
}

function fromResult(step: PlanStep, r: HandlerResult): StepOutcome {
  const details: StatusDetails = { ...r.details };
  if (!step.includeStdOut) delete details.stdout;
  return { ok: r.status === 'SUCCEEDED', details };
}

async function runBuiltinStep(ctx: Ctx, opts: DeviceClientHandlerOptions, step: PlanStep, index: number): Promise<StepOutcome> {
  const h = builtinHandler(opts, step);
  const sub = builtinContext(ctx, opts, step, index);
  const reason = await h.validate?.(sub.document);
  if (typeof reason === 'string') throw new RejectError(`step "${step.name}": ${reason}`);
  return fromResult(step, await h.run(sub));
}

function runStep(ctx: Ctx, opts: DeviceClientHandlerOptions, step: PlanStep, index: number): Promise<StepOutcome> {
  return step.action.type === 'builtin' ? runBuiltinStep(ctx, opts, step, index) : runProcessStep(ctx, step);
}

function allSteps(plan: DeviceClientPlan): PlanStep[] {
  return plan.finalStep ? [...plan.steps, plan.finalStep] : plan.steps;
}

function failed(step: PlanStep, o: StepOutcome): HandlerResult {
  return { status: 'FAILED', details: { ...o.details, step: detailTail(step.name), reason: detailTail(`step "${step.name}" failed: ${o.details.reason ?? 'FAILED'}`) } };
}

/** Runs steps from `from`, given the outcome of the step before it (if it was decided by resume). */
async function runFrom(ctx: Ctx, opts: DeviceClientHandlerOptions, plan: DeviceClientPlan, from: number, last?: StepOutcome): Promise<HandlerResult> {
  const steps = allSteps(plan);
  let lastOutcome = last;
  for (let i = from; i < steps.length; i++) {
    const step = steps[i];
    if (!step) break;
    await ctx.saveState({ step: i });
    ctx.progress({ step: `${i + 1}/${steps.length}`, name: detailTail(step.name) });
    const o = await runStep(ctx, opts, step, i);
    if (!o.ok && !step.ignoreStepFailure) return failed(step, o);
    lastOutcome = o;
  }
  const details: StatusDetails = { steps: String(steps.length) };
  if (lastOutcome?.details.stdout) details.stdout = lastOutcome.details.stdout;
  return { status: 'SUCCEEDED', details };
}

async function resumePlan(ctx: Ctx, opts: DeviceClientHandlerOptions, plan: DeviceClientPlan): Promise<HandlerResult> {
  const saved = ctx.savedState;
  const index = typeof saved?.step === 'number' ? saved.step : -1;
  const step = allSteps(plan)[index];
  if (!step) return { status: 'FAILED', details: { reason: 'interrupted' } };
  const interrupted: StepOutcome = { ok: false, details: { reason: 'interrupted by an agent restart' } };
  let outcome = interrupted;
  if (step.action.type === 'builtin') {
    const h = builtinHandler(opts, step);
    const inner = typeof saved?.inner === 'object' && saved.inner !== null ? (saved.inner as Record<string, unknown>) : undefined;
    const sub = builtinContext(ctx, opts, step, index, inner);
    if (h.restartPolicy === 'resume' && h.resume) outcome = fromResult(step, await h.resume(sub));
    else if (h.restartPolicy === 'rerun') outcome = fromResult(step, await h.run(sub));
  }
  if (!outcome.ok && !step.ignoreStepFailure) return failed(step, outcome);
  return runFrom(ctx, opts, plan, index + 1, outcome);
}

export function createDeviceClientHandler(opts: DeviceClientHandlerOptions): JobHandler<unknown> {
  const parse = (doc: unknown): Promise<DeviceClientPlan> =>
    parseDeviceClientDocument(doc, { scriptDirectories: opts.scriptDirectories, available: (n) => opts.handlers().has(n) });
  return {
    name: DEVICE_CLIENT_HANDLER,
    restartPolicy: 'resume',
    async validate(document: unknown): Promise<string | undefined> {
      try {
        const plan = await parse(document);
        for (const step of allSteps(plan)) {
          // A missing user must reject the job before it is IN_PROGRESS: the service refuses IN_PROGRESS → REJECTED.
          if (step.runAsUser !== undefined) await resolveUser(step.runAsUser);
          if (step.action.type !== 'builtin') continue;
          const doc = step.runAsUser === undefined ? step.action.document : { ...step.action.document, runAsUser: step.runAsUser };
          const reason = await builtinHandler(opts, step).validate?.(doc);
          if (typeof reason === 'string') return `step "${step.name}": ${reason}`;
        }
        return undefined;
      } catch (err) {
        if (isRejectError(err)) return err.message;
        throw err;
      }
    },
    async run(ctx) {
      return runFrom(ctx, opts, await parse(ctx.document), 0);
    },
    async resume(ctx) {
      return resumePlan(ctx, opts, await parse(ctx.document));
    },
  };
}
