/** Pure tables: rollout rates, abort tallies and criteria, and the validation of both configurations. */
import { failures, firstMet, tally } from '../../src/sim/jobs/abort';
import type { AbortCriterion } from '../../src/sim/jobs/abort';
import { checkAbort, checkJobConfigs, checkRollout } from '../../src/sim/jobs/job-config';
import { ratePerMinute, room } from '../../src/sim/jobs/rollout';
import type { Pacer } from '../../src/sim/jobs/rollout';

describe('rollout rate per minute', () => {
  const aws = { exponentialRate: { baseRatePerMinute: 50, incrementFactor: 2, numberOfNotifiedThings: 1000, numberOfSucceededThings: 1000 } };
  it.each([
    // The developer guide's table: 50, 100, 200, 400 per minute at 1000, 2000, 3000 notified or succeeded.
    [aws, 0, 0, 50],
    [aws, 999, 999, 50],
    [aws, 1000, 0, 100],
    [aws, 0, 1000, 100],
    [aws, 2000, 10, 200],
    [aws, 3999, 3000, 400],
    [{ ...aws, maximumPerMinute: 300 }, 3000, 0, 300],
    [{ exponentialRate: { baseRatePerMinute: 900, incrementFactor: 5, numberOfNotifiedThings: 1 } }, 1, 0, 1000],
    [{ exponentialRate: { baseRatePerMinute: 10, incrementFactor: 1.5, numberOfSucceededThings: 10 } }, 500, 20, 22],
    [{ exponentialRate: { baseRatePerMinute: 10, incrementFactor: 1.1, numberOfNotifiedThings: 5 } }, 10, 0, 12],
    [{ maximumPerMinute: 5 }, 100, 100, 5],
    [{}, 0, 0, 1000],
  ])('%j after %d notified, %d succeeded → %d', (spec, notified, succeeded, rate) => {
    expect(ratePerMinute(spec, notified, succeeded)).toBe(rate);
  });

  it('counts each minute from its first execution, at the rate it started with', () => {
    const p: Pacer = { minuteStartMs: undefined, rate: 0, inMinute: 0 };
    expect(room(p, () => 3, 1000)).toBe(3);
    p.inMinute = 2;
    expect(room(p, () => 5, 60_999)).toBe(1);
    p.inMinute = 3;
    expect(room(p, () => 5, 60_999)).toBe(0);
    expect(room(p, () => 5, 61_000)).toBe(5);
    expect(p).toEqual({ minuteStartMs: 61_000, rate: 5, inMinute: 0 });
  });
});

describe('abort tally and criteria', () => {
  const x = (...s: string[]): { status: any }[] => s.map((status) => ({ status }));
  const things = [x('FAILED', 'QUEUED'), x('FAILED', 'SUCCEEDED'), x('TIMED_OUT'), x('REJECTED'), x('CANCELED'), x('REMOVED'), x('IN_PROGRESS'), x('FAILED', 'CANCELED')];

  it('counts each thing by its latest finished execution, or every finished attempt', () => {
    expect(tally(things, 'things')).toEqual({ executed: 5, FAILED: 2, REJECTED: 1, TIMED_OUT: 1 });
    expect(tally(things, 'executions')).toEqual({ executed: 6, FAILED: 3, REJECTED: 1, TIMED_OUT: 1 });
  });

  const c = (failureType: AbortCriterion['failureType'], thresholdPercentage: number, minNumberOfExecutedThings: number): AbortCriterion => ({
    failureType,
    action: 'CANCEL',
    thresholdPercentage,
    minNumberOfExecutedThings,
  });
  const t = { executed: 8, FAILED: 2, REJECTED: 1, TIMED_OUT: 1 };
  it.each([
    [[c('FAILED', 25, 8)], 0],
    [[c('FAILED', 25.01, 8)], undefined],
    [[c('FAILED', 25, 9)], undefined],
    [[c('ALL', 50, 8)], 0],
    [[c('ALL', 50.01, 1)], undefined],
    [[c('REJECTED', 12.5, 2)], 0],
    [[c('TIMED_OUT', 0, 1)], 0],
    [[c('TIMED_OUT', 99, 1), c('FAILED', 10, 1)], 1],
    [[c('FAILED', 10, 1), c('ALL', 10, 1)], 0],
  ])('%j → criterion %s', (criteria, index) => {
    const met = firstMet(criteria, t);
    expect(met === undefined ? undefined : criteria.indexOf(met)).toBe(index);
  });

  it('a 0% threshold still needs a failure; ALL sums the three failure types', () => {
    expect(firstMet([c('FAILED', 0, 1)], { executed: 3, FAILED: 0, REJECTED: 2, TIMED_OUT: 0 })).toBeUndefined();
    expect(failures(t, 'ALL')).toBe(4);
  });
});

describe('rollout and abort validation', () => {
  const exp = (o: Record<string, unknown>) => ({ exponentialRate: { baseRatePerMinute: 10, incrementFactor: 2, rateIncreaseCriteria: { numberOfNotifiedThings: 5 }, ...o } });
  it.each([
    [{ maximumPerMinute: 0 }, /maximumPerMinute must be an integer from 1 to 1000/],
    [{ maximumPerMinute: 1001 }, /maximumPerMinute must be an integer from 1 to 1000/],
    [{ maximumPerMinute: 2.5 }, /maximumPerMinute/],
    [exp({ baseRatePerMinute: 0 }), /baseRatePerMinute must be an integer from 1 to 1000/],
    [exp({ incrementFactor: 1 }), /incrementFactor must be a number from 1.1 to 5/],
    [exp({ incrementFactor: 5.1 }), /incrementFactor/],
    [exp({ incrementFactor: 1.55 }), /at most one digit after the decimal point/],
    [exp({ rateIncreaseCriteria: undefined }), /rateIncreaseCriteria is required/],
    [exp({ rateIncreaseCriteria: {} }), /needs numberOfNotifiedThings or numberOfSucceededThings/],
    [exp({ rateIncreaseCriteria: { numberOfSucceededThings: 0 } }), /numberOfSucceededThings must be an integer of at least 1/],
    [{ maximumPerMinute: 5, rate: 3 }, /jobExecutionsRolloutConfig\.rate is not a field/],
    [[], /must be an object/],
  ])('rollout %j is refused', (config, message) => {
    const r = checkRollout(config);
    expect(r).toMatchObject({ ok: false, error: { name: 'InvalidRequestException', status: 400 } });
    if (!r.ok) expect(r.error.message).toMatch(message);
  });

  const crit = (o: Record<string, unknown>) => ({ criteriaList: [{ failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 10, minNumberOfExecutedThings: 1, ...o }] });
  it.each([
    [{ criteriaList: [] }, /at least one criterion/],
    [{}, /criteriaList must be a list/],
    [crit({ failureType: 'CRASHED' }), /failureType must be one of FAILED, REJECTED, TIMED_OUT, ALL/],
    [crit({ action: 'PAUSE' }), /action must be CANCEL/],
    [crit({ thresholdPercentage: 100.01 }), /thresholdPercentage must be a number from 0 to 100/],
    [crit({ thresholdPercentage: -1 }), /thresholdPercentage/],
    [crit({ thresholdPercentage: 10.999 }), /at most two digits/],
    [crit({ minNumberOfExecutedThings: 0 }), /minNumberOfExecutedThings must be an integer of at least 1/],
    [crit({ minNumberOfExecutedThings: undefined }), /minNumberOfExecutedThings/],
    [crit({ note: 'x' }), /criteriaList\[0\]\.note is not a field/],
  ])('abort %j is refused', (config, message) => {
    const r = checkAbort(config);
    expect(r).toMatchObject({ ok: false, error: { name: 'InvalidRequestException', status: 400 } });
    if (!r.ok) expect(r.error.message).toMatch(message);
  });

  it('keeps exactly what DescribeJob shows', () => {
    const rollout = { maximumPerMinute: 100, exponentialRate: { baseRatePerMinute: 10, incrementFactor: 1.5, rateIncreaseCriteria: { numberOfSucceededThings: 3 } } };
    const abort = { criteriaList: [{ failureType: 'ALL', action: 'CANCEL', thresholdPercentage: 12.34, minNumberOfExecutedThings: 7 }] };
    const r = checkJobConfigs({ jobExecutionsRolloutConfig: rollout, abortConfig: abort, schedulingConfig: null }, 0);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.rollout?.echo).toEqual(rollout);
    expect(r.value.abort?.echo).toEqual(abort);
    expect(r.value.schedule).toBeUndefined();
    expect(r.value.rollout?.spec).toEqual({ maximumPerMinute: 100, exponentialRate: { baseRatePerMinute: 10, incrementFactor: 1.5, numberOfSucceededThings: 3 } });
  });
});
