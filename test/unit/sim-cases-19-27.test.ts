/** docs/PROTOCOL.md §8 tricky cases 19–27, one describe per case. */
import { makeSim, only, S0, topicsOf } from './sim-harness';

describe('§8 case 19: eventual consistency knob', () => {
  it('$next reads miss executions queued less than eventualConsistencyMs ago; lists do not', () => {
    const sim = makeSim();
    sim.svc.setFaults('t1', { eventualConsistencyMs: 2000 });
    sim.job('J1');
    expect(only(sim.mqtt('$next/get', { clientToken: 'a' }), 'accepted')).toEqual({ clientToken: 'a', timestamp: S0 });
    expect(only(sim.mqtt('start-next', {}), 'accepted')).not.toHaveProperty('execution');
    expect(sim.svc.httpDescribe('t1', '$next', {})).toEqual({ ok: true, value: {} });
    expect(only(sim.mqtt('get', {}), 'accepted').queuedJobs).toHaveLength(1);
    sim.clock.advance(1999);
    expect(only(sim.mqtt('$next/get', {}), 'accepted')).not.toHaveProperty('execution');
    sim.clock.advance(1);
    expect(only(sim.mqtt('$next/get', {}), 'accepted').execution.jobId).toBe('J1');
    expect(only(sim.mqtt('start-next', {}), 'accepted').execution.status).toBe('IN_PROGRESS');
  });

  it('an IN_PROGRESS head stays visible, other things are unaffected, "*" applies to all', () => {
    const sim = makeSim();
    sim.job('J1', { targets: ['t1', 't2'] });
    sim.mqtt('J1/update', { status: 'IN_PROGRESS' });
    sim.svc.setFaults('*', { eventualConsistencyMs: 60_000 });
    expect(only(sim.mqtt('$next/get', {}), 'accepted').execution.jobId).toBe('J1');
    expect(only(sim.mqtt('$next/get', {}, { thing: 't2' }), 'accepted')).not.toHaveProperty('execution');
    sim.svc.setFaults('t2', { eventualConsistencyMs: 0 });
    expect(sim.svc.faultsFor('t2')).toEqual({ eventualConsistencyMs: 0 });
    expect(only(sim.mqtt('$next/get', {}, { thing: 't2' }), 'accepted').execution.jobId).toBe('J1');
  });
});

describe('§8 case 20: duplicate notify-next injection', () => {
  it.each([
    [false, ['J1/update/accepted']],
    [true, ['J1/update/accepted', 'notify-next']],
  ])('duplicateNotifyNext=%s', (dup, expected) => {
    const sim = makeSim();
    sim.job('J1');
    sim.job('J2');
    sim.mqtt('start-next', {});
    sim.svc.setFaults('t1', { duplicateNotifyNext: dup });
    const p = sim.mqtt('J1/update', { status: 'IN_PROGRESS', statusDetails: { p: '1' } });
    expect(topicsOf(p)).toEqual(expected);
    if (dup) expect(only(p, 'notify-next').execution).toMatchObject({ jobId: 'J1', status: 'IN_PROGRESS', versionNumber: 3 });
    // An update of a non-head execution never duplicates.
    expect(topicsOf(sim.mqtt('J2/update', { status: 'REJECTED' }))).toEqual(['J2/update/accepted', 'notify']);
  });
});

describe('§8 case 21: IN_PROGRESS → REJECTED', () => {
  it.each([
    [{}, 'rejected'],
    [{ allowRejectFromInProgress: true }, 'accepted'],
  ])('options %j → %s', (opts, kind) => {
    const sim = makeSim(opts);
    sim.job('J1');
    sim.mqtt('start-next', {});
    const p = sim.mqtt('J1/update', { status: 'REJECTED' });
    expect(topicsOf(p)[0]).toBe(`J1/update/${kind}`);
    if (kind === 'rejected') expect(p[0]!.payload).toMatchObject({ code: 'InvalidStateTransition', executionState: { status: 'IN_PROGRESS' } });
  });

  it('QUEUED → REJECTED is always allowed', () => {
    const sim = makeSim();
    sim.job('J1');
    expect(topicsOf(sim.mqtt('J1/update', { status: 'REJECTED' }))).toEqual(['J1/update/accepted', 'notify', 'notify-next']);
  });
});

describe('§8 case 22: throttling and internal errors', () => {
  it.each([
    [{ throttle: 1 }, 'RequestThrottled', 'ThrottlingException', 429],
    [{ internalError: 1 }, 'InternalError', 'ServiceUnavailableException', 503],
    [{ throttle: 1, internalError: 1 }, 'RequestThrottled', 'ThrottlingException', 429],
  ])('faults %j → %s / %s %i on every operation', (faults, code, name, status) => {
    const sim = makeSim();
    sim.job('J1');
    sim.svc.setFaults('t1', faults);
    for (const suffix of ['get', 'start-next', 'J1/get', '$next/get', 'J1/update']) {
      const rej = only(sim.mqtt(suffix, { clientToken: 'q', status: 'SUCCEEDED' }), `${suffix}/rejected`);
      expect(rej).toEqual({ code, message: expect.any(String), clientToken: 'q', timestamp: S0 });
    }
    for (const r of [
      sim.svc.httpGetPending('t1'),
      sim.svc.httpDescribe('t1', 'J1', {}),
      sim.svc.httpStartNext('t1', {}),
      sim.svc.httpUpdate('t1', 'J1', { status: 'SUCCEEDED' }),
    ]) {
      expect(r).toMatchObject({ ok: false, error: { name, status } });
    }
    expect(sim.svc.history()).toHaveLength(1);
  });

  it('throttlingStatus 400 alternative', () => {
    const sim = makeSim({ throttlingStatus: 400 });
    sim.svc.setFaults('*', { throttle: 1 });
    expect(sim.svc.httpGetPending('t1')).toMatchObject({ ok: false, error: { name: 'ThrottlingException', status: 400 } });
  });

  it('probabilities are drawn from init.random; per-thing faults override "*"', () => {
    const draws = [0.4, 0.6];
    const sim = makeSim({}, () => draws.shift() ?? 0.99);
    sim.svc.setFaults('*', { throttle: 0.5 });
    sim.svc.setFaults('t2', { throttle: 0 });
    expect(topicsOf(sim.mqtt('get', {}))).toEqual(['get/rejected']);
    expect(topicsOf(sim.mqtt('get', {}))).toEqual(['get/accepted']);
    expect(topicsOf(sim.mqtt('get', {}, { thing: 't2' }))).toEqual(['get/accepted']);
    expect(sim.svc.faultsFor('t2')).toEqual({ throttle: 0 });
    expect(sim.svc.faultsFor('t1')).toEqual({ throttle: 0.5 });
  });
});

describe('§8 case 23: HTTPS path values (decoded by the front)', () => {
  it('$next and thing names with colons work; malformed values are InvalidRequestException', () => {
    const sim = makeSim();
    sim.job('J1', { targets: ['arn:aws:iot:eu-west-1:123456789012:thing/ns:dev-1'] });
    const d = sim.svc.httpDescribe('ns:dev-1', '$next', {});
    expect(d.ok && d.value.execution).toMatchObject({ jobId: 'J1', thingName: 'ns:dev-1' });
    for (const r of [
      sim.svc.httpDescribe('ns:dev-1', '%24next', {}),
      sim.svc.httpDescribe('bad/thing', 'J1', {}),
      sim.svc.httpUpdate('ns:dev-1', '$next', { status: 'SUCCEEDED' }),
      sim.svc.httpGetPending('t 1'),
      sim.svc.httpGetPending('t1', 'bad ns'),
      sim.svc.httpDescribe('t1', 'J1', { executionNumber: 1.5 }),
      sim.svc.httpUpdate('t1', 'J1', 'not an object'),
      sim.svc.httpStartNext('t1', [1]),
    ]) {
      expect(r).toMatchObject({ ok: false, error: { name: 'InvalidRequestException', status: 400 } });
    }
  });
});

describe('§8 case 24: HTTPS errors carry a name, status and message', () => {
  it.each([
    ['unknown execution', (s: any) => s.svc.httpDescribe('t1', 'nope', {}), 'ResourceNotFoundException', 404],
    ['bad status', (s: any) => s.svc.httpUpdate('t1', 'J1', { status: 'DONE' }), 'InvalidRequestException', 400],
    ['service status', (s: any) => s.svc.httpUpdate('t1', 'J1', { status: 'CANCELED' }), 'InvalidRequestException', 400],
    ['QUEUED status', (s: any) => s.svc.httpUpdate('t1', 'J1', { status: 'QUEUED' }), 'InvalidStateTransitionException', 409],
    ['version mismatch', (s: any) => s.svc.httpUpdate('t1', 'J1', { status: 'IN_PROGRESS', expectedVersion: 7 }), 'InvalidStateTransitionException', 409],
  ])('%s → %s %i', (_n, call, name, status) => {
    const sim = makeSim();
    sim.job('J1');
    const r = call(sim);
    expect(r).toMatchObject({ ok: false, error: { name, status, message: expect.any(String) } });
    if (status === 409) expect(r.error.executionState).toEqual({ status: 'QUEUED', versionNumber: 1 });
  });

  it('terminal update and describeTerminal switch', () => {
    const sim = makeSim({ describeTerminal: 'TerminalStateReached' });
    sim.job('J1');
    expect(sim.svc.httpUpdate('t1', 'J1', { status: 'SUCCEEDED' })).toEqual({ ok: true, value: {} });
    expect(sim.svc.httpUpdate('t1', 'J1', { status: 'FAILED' })).toMatchObject({
      ok: false,
      error: { name: 'InvalidStateTransitionException', status: 409, executionState: { status: 'SUCCEEDED' } },
    });
    expect(sim.svc.httpDescribe('t1', 'J1', {})).toMatchObject({ ok: false, error: { name: 'TerminalStateException', status: 410 } });
  });

  it('successful HTTPS shapes: no clientToken/timestamp, thingName present', () => {
    const sim = makeSim();
    sim.job('J1');
    const g = sim.svc.httpGetPending('t1');
    expect(g).toEqual({ ok: true, value: { inProgressJobs: [], queuedJobs: [{ jobId: 'J1', queuedAt: S0, lastUpdatedAt: S0, executionNumber: 1, versionNumber: 1 }] } });
    const s = sim.svc.httpStartNext('t1', undefined);
    expect(s).toEqual({
      ok: true,
      value: {
        execution: {
          jobId: 'J1',
          thingName: 't1',
          status: 'IN_PROGRESS',
          queuedAt: S0,
          startedAt: S0,
          lastUpdatedAt: S0,
          executionNumber: 1,
          versionNumber: 2,
          jobDocument: '{"op":"J1"}',
        },
      },
    });
    const u = sim.svc.httpUpdate('t1', 'J1', { status: 'IN_PROGRESS', includeJobExecutionState: true, statusDetails: { a: 'b' } });
    expect(u).toEqual({ ok: true, value: { executionState: { status: 'IN_PROGRESS', statusDetails: { a: 'b' }, versionNumber: 3 } } });
    expect(sim.svc.httpDescribe('t1', 'J1', { includeJobDocument: false })).toMatchObject({ ok: true, value: { execution: { versionNumber: 3 } } });
    const d = sim.svc.httpDescribe('t1', 'J1', { includeJobDocument: false });
    expect(d.ok && d.value.execution).not.toHaveProperty('jobDocument');
  });

  it('HTTPS changes publish their notifications', () => {
    const sim = makeSim();
    sim.job('J1');
    expect(topicsOf(sim.during(() => sim.svc.httpUpdate('t1', 'J1', { status: 'SUCCEEDED' })))).toEqual(['notify', 'notify-next']);
  });
});

describe('§8 case 25: namespaces', () => {
  it('one pending order per (thing, namespace), isolated from the plain one', () => {
    const sim = makeSim();
    const created = sim.job('N1', { namespaceId: 'ns1' });
    expect(topicsOf(created)).toEqual(['notify-namespace-ns1', 'notify-next-namespace-ns1']);
    expect(only(created, 'notify-next-namespace-ns1').execution).toMatchObject({ jobId: 'N1', status: 'QUEUED' });
    expect(topicsOf(sim.job('P1'))).toEqual(['notify', 'notify-next']);
    // the namespaced job running does not block the plain start-next
    expect(only(sim.mqtt('N1/namespace-ns1/update', { status: 'IN_PROGRESS' }), 'accepted')).toBeDefined();
    expect(only(sim.mqtt('start-next', {}), 'accepted').execution.jobId).toBe('P1');
    expect(only(sim.mqtt('$next/namespace-ns1/get', {}), '$next/namespace-ns1/get/accepted').execution.jobId).toBe('N1');
    expect(only(sim.mqtt('get', {}), 'accepted').inProgressJobs.map((j: any) => j.jobId)).toEqual(['P1']);
    expect(only(sim.mqtt('namespace-ns1/get', {}), 'accepted').inProgressJobs.map((j: any) => j.jobId)).toEqual(['N1']);
    const h = sim.svc.httpGetPending('t1', 'ns1');
    expect(h.ok && h.value.inProgressJobs.map((j) => j.jobId)).toEqual(['N1']);
    const done = sim.mqtt('N1/namespace-ns1/update', { status: 'SUCCEEDED' });
    expect(topicsOf(done)).toEqual(['N1/namespace-ns1/update/accepted', 'notify-namespace-ns1', 'notify-next-namespace-ns1']);
    expect(only(done, 'notify-next-namespace-ns1')).toEqual({ timestamp: S0 });
  });

  it('a namespaced topic naming a job of another namespace is ResourceNotFound; thing-level namespaced start-next works', () => {
    const sim = makeSim();
    sim.job('P1');
    sim.job('N1', { namespaceId: 'ns1' });
    expect(only(sim.mqtt('P1/namespace-ns1/get', {}), 'rejected').code).toBe('ResourceNotFound');
    expect(only(sim.mqtt('N1/namespace-ns2/update', { status: 'SUCCEEDED' }), 'rejected').code).toBe('ResourceNotFound');
    expect(only(sim.mqtt('start-next-namespace-ns1', {}), 'start-next-namespace-ns1/accepted').execution.jobId).toBe('N1');
    // HTTPS describe/update carry no namespace: they address the job wherever it lives
    expect(sim.svc.httpUpdate('t1', 'N1', { status: 'SUCCEEDED' }).ok).toBe(true);
  });

  it.each([
    ['short' as const, ['notify-namespace-ns1', 'notify-next-namespace-ns1']],
    ['doc' as const, ['N1/notify-namespace-ns1/', 'notify-next-namespace-ns1']],
    ['both' as const, ['notify-namespace-ns1', 'N1/notify-namespace-ns1/', 'notify-next-namespace-ns1']],
  ])('namespaceNotifyForm %s', (form, expected) => {
    const sim = makeSim({ namespaceNotifyForm: form });
    expect(topicsOf(sim.job('N1', { namespaceId: 'ns1' }))).toEqual(expected);
    expect(topicsOf(sim.job('P1'))).toEqual(['notify', 'notify-next']);
  });
});

describe('§8 case 26: step timer semantics', () => {
  const MIN = 60_000;
  it('each new value restarts from now; -1 cancels; expiry times out with notifications', () => {
    const sim = makeSim();
    sim.job('J1');
    sim.job('J2');
    const t0 = sim.clock.now();
    sim.mqtt('start-next', { stepTimeoutInMinutes: 5 });
    expect(sim.svc.nextTimerAt()).toBe(t0 + 5 * MIN);
    sim.clock.advance(3 * MIN);
    expect(only(sim.mqtt('J1/get', {}), 'accepted').execution.approximateSecondsBeforeTimedOut).toBe(120);
    sim.mqtt('J1/update', { status: 'IN_PROGRESS', stepTimeoutInMinutes: 10 });
    expect(sim.svc.nextTimerAt()).toBe(t0 + 13 * MIN);
    sim.mqtt('J1/update', { status: 'IN_PROGRESS', stepTimeoutInMinutes: -1 });
    expect(sim.svc.nextTimerAt()).toBeUndefined();
    expect(only(sim.mqtt('J1/get', {}), 'accepted').execution).not.toHaveProperty('approximateSecondsBeforeTimedOut');
    sim.mqtt('J1/update', { status: 'IN_PROGRESS', stepTimeoutInMinutes: 1 });
    sim.clock.advance(MIN - 1);
    expect(sim.during(() => sim.svc.tick())).toEqual([]);
    sim.clock.advance(1);
    const fired = sim.during(() => sim.svc.tick());
    expect(topicsOf(fired)).toEqual(['notify', 'notify-next']);
    expect(only(fired, 'notify-next').execution.jobId).toBe('J2');
    expect(sim.svc.nextTimerAt()).toBeUndefined();
    const e = only(sim.mqtt('J1/get', {}), 'accepted').execution;
    expect(e).toMatchObject({ status: 'TIMED_OUT', versionNumber: 6 });
    expect(sim.svc.history().at(-1)).toMatchObject({ jobId: 'J1', from: 'IN_PROGRESS', to: 'TIMED_OUT', by: 'service' });
    expect(only(sim.mqtt('J1/update', { status: 'SUCCEEDED' }), 'rejected').executionState.status).toBe('TIMED_OUT');
  });

  it('a step timer is bounded by the job’s in-progress timer', () => {
    const sim = makeSim({ bumpVersionOnServiceTransition: false });
    sim.job('J1', { timeoutConfig: { inProgressTimeoutInMinutes: 10 } });
    const t0 = sim.clock.now();
    sim.mqtt('start-next', {});
    expect(sim.svc.nextTimerAt()).toBe(t0 + 10 * MIN);
    sim.clock.advance(MIN);
    sim.mqtt('J1/update', { status: 'IN_PROGRESS', stepTimeoutInMinutes: 30 });
    expect(sim.svc.nextTimerAt()).toBe(t0 + 10 * MIN);
    sim.mqtt('J1/update', { status: 'IN_PROGRESS', stepTimeoutInMinutes: 2 });
    expect(sim.svc.nextTimerAt()).toBe(t0 + 3 * MIN);
    sim.mqtt('J1/update', { status: 'IN_PROGRESS', stepTimeoutInMinutes: -1 });
    expect(sim.svc.nextTimerAt()).toBe(t0 + 10 * MIN);
    sim.clock.advance(20 * MIN);
    sim.svc.tick();
    expect(only(sim.mqtt('J1/get', {}), 'accepted').execution).toMatchObject({ status: 'TIMED_OUT', versionNumber: 5 });
  });

  it('QUEUED executions have no timer; terminal ones lose theirs; invalid values are refused', () => {
    const sim = makeSim();
    sim.job('J1', { timeoutConfig: { inProgressTimeoutInMinutes: 10 } });
    expect(sim.svc.nextTimerAt()).toBeUndefined();
    for (const v of [0, 10081, -1, 'x'])
      expect(only(sim.mqtt('start-next', { stepTimeoutInMinutes: v }), 'rejected').code).toBe('InvalidRequest');
    for (const v of [0, 10081, -2])
      expect(only(sim.mqtt('J1/update', { status: 'IN_PROGRESS', stepTimeoutInMinutes: v }), 'rejected').code).toBe('InvalidRequest');
    sim.mqtt('J1/update', { status: 'IN_PROGRESS', stepTimeoutInMinutes: 3 });
    expect(sim.svc.nextTimerAt()).toBeDefined();
    sim.mqtt('J1/update', { status: 'SUCCEEDED' });
    expect(sim.svc.nextTimerAt()).toBeUndefined();
  });
});

describe('§8 case 27: terminal executions stay describable', () => {
  it.each([
    [{}, 'accepted'],
    [{ describeTerminal: 'TerminalStateReached' as const }, 'rejected'],
  ])('options %j → %s', (opts, kind) => {
    const sim = makeSim(opts);
    sim.job('J1');
    sim.mqtt('J1/update', { status: 'SUCCEEDED', statusDetails: { r: 'ok' } });
    const p = only(sim.mqtt('J1/get', {}), `J1/get/${kind}`);
    if (kind === 'accepted') expect(p.execution).toMatchObject({ status: 'SUCCEEDED', statusDetails: { r: 'ok' } });
    else expect(p.code).toBe('TerminalStateReached');
  });

  it('deleted or unknown executions → ResourceNotFound; executionNumber selects', () => {
    const sim = makeSim();
    sim.job('J1');
    expect(only(sim.mqtt('J1/get', { executionNumber: 1 }), 'accepted').execution.executionNumber).toBe(1);
    expect(only(sim.mqtt('J1/get', { executionNumber: '1' }), 'accepted').execution.executionNumber).toBe(1);
    expect(only(sim.mqtt('J1/get', { executionNumber: 2 }), 'rejected').code).toBe('ResourceNotFound');
    expect(only(sim.mqtt('J1/get', { executionNumber: 'two' }), 'rejected').code).toBe('InvalidRequest');
    expect(only(sim.mqtt('J1/get', { includeJobDocument: 'yes' }), 'rejected').code).toBe('InvalidRequest');
    sim.mqtt('J1/update', { status: 'SUCCEEDED' });
    sim.svc.deleteJob('J1', {});
    expect(only(sim.mqtt('J1/get', {}), 'rejected').code).toBe('ResourceNotFound');
    expect(sim.svc.httpDescribe('t1', 'J1', {})).toMatchObject({ ok: false, error: { name: 'ResourceNotFoundException' } });
  });
});
