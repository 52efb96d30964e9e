/** docs/PROTOCOL.md §8 tricky cases 1–9, one describe per case. */
import { makeSim, only, S0, topicsOf } from './sim-harness';
import type { Sim } from './sim-harness';

function started(opts: Parameters<typeof makeSim>[0] = {}): Sim {
  const sim = makeSim(opts);
  sim.job('J1');
  sim.mqtt('start-next', { clientToken: 's' });
  return sim;
}

describe('§8 case 1: duplicate update with the same expectedVersion', () => {
  it('non-terminal duplicate with expectedVersion: second copy is VersionMismatch showing the first copy’s result', () => {
    const sim = started();
    const req = { clientToken: 'u', status: 'IN_PROGRESS', expectedVersion: 2, statusDetails: { step: '1' } };
    expect(topicsOf(sim.mqtt('J1/update', req))).toEqual(['J1/update/accepted']);
    const dup = only(sim.mqtt('J1/update', req), 'J1/update/rejected');
    expect(dup).toMatchObject({
      code: 'VersionMismatch',
      clientToken: 'u',
      executionState: { status: 'IN_PROGRESS', versionNumber: 3, statusDetails: { step: '1' } },
    });
  });

  it('non-terminal duplicate without expectedVersion is simply accepted again (version +1 more)', () => {
    const sim = started();
    const req = { status: 'IN_PROGRESS', includeJobExecutionState: true };
    expect(only(sim.mqtt('J1/update', req), 'accepted').executionState.versionNumber).toBe(3);
    expect(only(sim.mqtt('J1/update', req), 'accepted').executionState.versionNumber).toBe(4);
  });

  it('terminal duplicate without expectedVersion is a terminal-state rejection', () => {
    const sim = started();
    sim.mqtt('J1/update', { status: 'SUCCEEDED' });
    expect(only(sim.mqtt('J1/update', { status: 'SUCCEEDED' }), 'rejected')).toMatchObject({
      code: 'InvalidStateTransition',
      executionState: { status: 'SUCCEEDED', versionNumber: 3 },
    });
  });

  it.each([
    [{}, 'VersionMismatch', true],
    [{ duplicateTerminalCheck: 'terminal-first' as const }, 'InvalidStateTransition', true],
    [{ duplicateTerminalCheck: 'terminal-first' as const, terminalUpdateCode: 'TerminalStateReached' as const }, 'TerminalStateReached', false],
    [{ terminalUpdateCode: 'TerminalStateReached' as const }, 'VersionMismatch', true],
  ])('terminal duplicate with expectedVersion, options %j → %s', (opts, code, hasState) => {
    const sim = started(opts);
    const req = { clientToken: 'x', status: 'SUCCEEDED', expectedVersion: 2 };
    expect(topicsOf(sim.mqtt('J1/update', req))).toContain('J1/update/accepted');
    const rej = only(sim.mqtt('J1/update', req), 'rejected');
    expect(rej.code).toBe(code);
    expect(rej.clientToken).toBe('x');
    if (hasState) expect(rej.executionState).toEqual({ status: 'SUCCEEDED', versionNumber: 3 });
    else expect(rej).not.toHaveProperty('executionState');
  });

  it('does not de-duplicate by clientToken', () => {
    const sim = started();
    expect(topicsOf(sim.mqtt('J1/update', { clientToken: 'same', status: 'IN_PROGRESS' }))).toEqual(['J1/update/accepted']);
    expect(topicsOf(sim.mqtt('J1/update', { clientToken: 'same', status: 'IN_PROGRESS' }))).toEqual(['J1/update/accepted']);
    expect(sim.svc.history().filter((h) => h.by === 'device')).toHaveLength(3);
  });
});

describe('§8 case 2: update after cancel', () => {
  it.each([
    ['CancelJob force', (s: Sim) => s.svc.cancelJob('J1', { force: true })],
    ['CancelJobExecution force', (s: Sim) => s.svc.cancelJobExecution('J1', 't1', { force: true })],
  ])('%s → InvalidStateTransition with executionState CANCELED', (_n, cancel) => {
    const sim = started();
    expect(cancel(sim).ok).toBe(true);
    const rej = only(sim.mqtt('J1/update', { clientToken: 'k', status: 'SUCCEEDED' }), 'rejected');
    expect(rej).toMatchObject({ code: 'InvalidStateTransition', clientToken: 'k', executionState: { status: 'CANCELED' } });
  });

  it('configurable to TerminalStateReached', () => {
    const sim = started({ terminalUpdateCode: 'TerminalStateReached' });
    sim.svc.cancelJob('J1', { force: true });
    const rej = only(sim.mqtt('J1/update', { status: 'FAILED' }), 'rejected');
    expect(rej.code).toBe('TerminalStateReached');
    expect(rej).not.toHaveProperty('executionState');
  });

  it('deleted job → ResourceNotFound', () => {
    const sim = started();
    expect(sim.svc.deleteJob('J1', { force: true }).ok).toBe(true);
    expect(only(sim.mqtt('J1/update', { status: 'SUCCEEDED' }), 'rejected').code).toBe('ResourceNotFound');
    expect(only(sim.mqtt('J1/get', {}), 'rejected').code).toBe('ResourceNotFound');
  });

  it('non-forced cancel: running execution keeps working, queued ones are canceled', () => {
    const sim = started();
    sim.job('J2', { targets: ['t1', 't2'] });
    sim.svc.cancelJob('J1', {});
    sim.svc.cancelJob('J2', {});
    expect(topicsOf(sim.mqtt('J1/update', { status: 'IN_PROGRESS', statusDetails: { p: '90' } }))).toEqual(['J1/update/accepted']);
    expect(topicsOf(sim.mqtt('J1/update', { status: 'SUCCEEDED' }))).toEqual(['J1/update/accepted', 'notify', 'notify-next']);
    expect(only(sim.mqtt('J2/get', {}), 'accepted').execution.status).toBe('CANCELED');
    expect(sim.svc.describeJob('J1')).toMatchObject({ ok: true, value: { job: { status: 'CANCELED', forceCanceled: false } } });
  });
});

describe('§8 case 3: notify-next only when the head changes', () => {
  it('start-next is silent', () => {
    const sim = makeSim();
    sim.job('J1');
    expect(topicsOf(sim.mqtt('start-next', {}))).toEqual(['start-next/accepted']);
  });

  it('a job queued behind the head causes notify but no notify-next', () => {
    const sim = makeSim();
    sim.job('J1');
    expect(topicsOf(sim.job('J2'))).toEqual(['notify']);
  });

  it('bare {timestamp} when the queue empties', () => {
    const sim = started();
    expect(only(sim.mqtt('J1/update', { status: 'SUCCEEDED' }), 'notify-next')).toEqual({ timestamp: S0 });
  });

  it('a non-head execution moved to IN_PROGRESS overtakes the head', () => {
    const sim = makeSim();
    sim.job('J1');
    sim.clock.advance(1000);
    sim.job('J2');
    sim.clock.advance(1000);
    sim.job('J3');
    const p = sim.mqtt('J2/update', { status: 'IN_PROGRESS' });
    expect(topicsOf(p)).toEqual(['J2/update/accepted', 'notify-next']);
    expect(only(p, 'notify-next').execution).toMatchObject({ jobId: 'J2', status: 'IN_PROGRESS', versionNumber: 2 });
    // J1 queued before J2: once started it leads the IN_PROGRESS group
    expect(only(sim.mqtt('J1/update', { status: 'IN_PROGRESS' }), 'notify-next').execution.jobId).toBe('J1');
    // J3 queued after both running ones: no head change
    expect(topicsOf(sim.mqtt('J3/update', { status: 'IN_PROGRESS' }))).toEqual(['J3/update/accepted']);
  });

  it('a non-head execution becoming terminal causes notify only; progress on the head causes nothing', () => {
    const sim = makeSim();
    sim.job('J1');
    sim.job('J2');
    expect(topicsOf(sim.mqtt('J2/update', { status: 'REJECTED' }))).toEqual(['J2/update/accepted', 'notify']);
    sim.mqtt('start-next', {});
    expect(topicsOf(sim.mqtt('J1/update', { status: 'IN_PROGRESS', statusDetails: { a: 'b' } }))).toEqual(['J1/update/accepted']);
  });

  it('head canceled by the service → notify-next with the new head', () => {
    const sim = makeSim();
    sim.job('J1');
    sim.job('J2');
    const p = sim.during(() => sim.svc.cancelJob('J1', {}));
    expect(topicsOf(p)).toEqual(['notify', 'notify-next']);
    expect(only(p, 'notify-next').execution.jobId).toBe('J2');
  });
});

describe('§8 case 4: notify only on pending-set membership change', () => {
  it('keys by status, omits empty keys, IN_PROGRESS group first', () => {
    const sim = makeSim();
    sim.job('J1');
    sim.job('J2');
    sim.mqtt('start-next', {});
    const p = sim.job('J3');
    expect(Object.keys(only(p, 'notify').jobs)).toEqual(['IN_PROGRESS', 'QUEUED']);
    expect(only(p, 'notify').jobs.IN_PROGRESS.map((j: any) => j.jobId)).toEqual(['J1']);
    expect(only(p, 'notify').jobs.QUEUED.map((j: any) => j.jobId)).toEqual(['J2', 'J3']);
    const q = sim.during(() => sim.svc.cancelJob('J2', {}));
    expect(only(q, 'notify').jobs.QUEUED.map((j: any) => j.jobId)).toEqual(['J3']);
    sim.svc.cancelJob('J3', {});
    expect(only(sim.mqtt('J1/update', { status: 'SUCCEEDED' }), 'notify')).toEqual({ timestamp: S0, jobs: {} });
  });

  it.each([
    [{}, 10],
    [{ maxPendingListed: 15 }, 15],
  ])('caps the lists (options %j → %i entries), IN_PROGRESS kept first', (opts, cap) => {
    const sim = makeSim(opts);
    for (let i = 0; i < 20; i++) {
      sim.job(`J${i}`);
      sim.clock.advance(10);
    }
    sim.mqtt('J19/update', { status: 'IN_PROGRESS' });
    const n = only(sim.job('Last'), 'notify').jobs;
    expect(n.IN_PROGRESS.map((j: any) => j.jobId)).toEqual(['J19']);
    expect(n.QUEUED).toHaveLength(cap - 1);
    expect(n.QUEUED[0].jobId).toBe('J0');
    expect(only(sim.mqtt('get', {}), 'accepted').queuedJobs).toHaveLength(cap - 1);
  });

  it('summaries carry no status, document or details', () => {
    const sim = started();
    sim.mqtt('J1/update', { status: 'IN_PROGRESS', statusDetails: { a: 'b' } });
    const s = only(sim.job('J2'), 'notify').jobs.IN_PROGRESS[0];
    expect(Object.keys(s).sort()).toEqual(['executionNumber', 'jobId', 'lastUpdatedAt', 'queuedAt', 'startedAt', 'versionNumber']);
  });
});

describe('§8 case 5: start-next is idempotent while a job runs', () => {
  it('returns the same IN_PROGRESS execution unchanged, ignores statusDetails, no notifications', () => {
    const sim = started();
    const first = only(sim.mqtt('$next/get', {}), 'accepted').execution;
    const again = sim.mqtt('start-next', { clientToken: 'r', statusDetails: { new: 'x' }, stepTimeoutInMinutes: 5 });
    expect(topicsOf(again)).toEqual(['start-next/accepted']);
    expect(only(again, 'accepted').execution).toEqual(first);
    expect(first).not.toHaveProperty('statusDetails');
    expect(sim.svc.nextTimerAt()).toBeUndefined();
  });

  it('stepTimeoutOnRestart applies the new step timer without a version bump', () => {
    const sim = started({ stepTimeoutOnRestart: true });
    const e = only(sim.mqtt('start-next', { stepTimeoutInMinutes: 5 }), 'accepted').execution;
    expect(e.versionNumber).toBe(2);
    expect(sim.svc.nextTimerAt()).toBe(sim.clock.now() + 5 * 60_000);
  });
});

describe('§8 case 6: $next get does not start anything', () => {
  it('idle thing → clientToken and timestamp only', () => {
    const sim = makeSim();
    expect(only(sim.mqtt('$next/get', { clientToken: 'n' }), '$next/get/accepted')).toEqual({ clientToken: 'n', timestamp: S0 });
  });

  it('queued head is described but stays QUEUED at version 1', () => {
    const sim = makeSim();
    sim.job('J1');
    for (let i = 0; i < 2; i++) {
      const e = only(sim.mqtt('$next/get', {}), 'accepted').execution;
      expect(e).toMatchObject({ jobId: 'J1', status: 'QUEUED', versionNumber: 1, jobDocument: { op: 'J1' } });
    }
    expect(only(sim.mqtt('$next/get', { includeJobDocument: false }), 'accepted').execution).not.toHaveProperty('jobDocument');
    expect(sim.svc.history()).toHaveLength(1);
  });
});

describe('§8 case 7: responses reach only the requester', () => {
  it('responses are addressed to the requesting client id; notifications to subscribers', () => {
    const sim = makeSim();
    sim.job('J1');
    const p = sim.mqtt('J1/update', { status: 'SUCCEEDED' }, { client: 'device-A' });
    expect(p.filter((x) => x.kind === 'response').map((x) => x.to)).toEqual(['device-A']);
    expect(p.filter((x) => x.kind === 'notification').every((x) => x.to === undefined)).toBe(true);
    expect(sim.svc.options.responsesToRequesterOnly).toBe(true);
  });
});

describe('§8 case 8: clientToken echo', () => {
  const ops: Array<[string, unknown]> = [
    ['get', {}],
    ['start-next', {}],
    ['J1/get', {}],
    ['$next/get', {}],
    ['J1/update', { status: 'IN_PROGRESS' }],
    ['J1/update', { status: 'QUEUED' }],
    ['J1/update', { status: 'IN_PROGRESS', expectedVersion: 9 }],
    ['nope/get', {}],
    ['J1/update', {}],
    ['J1/bogus', {}],
  ];
  it.each(ops)('%s %j echoes the token when present and omits it when absent', (suffix, body) => {
    const sim = makeSim();
    sim.job('J1');
    const withTok = sim.mqtt(suffix, { ...(body as object), clientToken: 'tok-1' });
    expect(withTok).toHaveLength(1);
    expect((withTok[0]!.payload as any).clientToken).toBe('tok-1');
    const without = sim.mqtt(suffix, body);
    expect(without[0]!.payload).not.toHaveProperty('clientToken');
  });

  it('InvalidJson cannot echo', () => {
    const sim = makeSim();
    expect(only(sim.mqtt('get', '{"clientToken":"t",'), 'rejected')).toEqual({
      code: 'InvalidJson',
      message: expect.any(String),
      timestamp: S0,
    });
  });
});

describe('§8 case 9: no retained messages', () => {
  it('publications carry no retain flag and nothing is sent to a thing that does not ask', () => {
    const sim = makeSim();
    sim.job('J1', { targets: ['t1'] });
    sim.svc.createThing('late');
    expect(sim.out.every((p) => Object.keys(p).every((k) => ['topic', 'payload', 'to', 'thing', 'kind'].includes(k)))).toBe(true);
    expect(sim.out.some((p) => p.thing === 'late')).toBe(false);
    expect(only(sim.mqtt('get', {}, { thing: 'late' }), 'accepted')).toMatchObject({ inProgressJobs: [], queuedJobs: [] });
  });
});
