/**
 * The fault suite, shortened: the agent as a real process, killed -9 mid-job and at random points,
 * its broker restarted and its connection dropped and stalled through a proxy, must end every
 * execution, lose no outcome and never run a non-idempotent job twice. `npm run chaos` is the full run.
 */
import { checkChaos } from '../../bench/chaos/check';
import type { Evidence, Transition } from '../../bench/chaos/check';
import { runChaos } from '../../bench/chaos/run';

describe('chaos (shortened)', () => {
  it('40 jobs, 3 kills, a broker restart, 2 drops, a stall and a full disk: no violation', async () => {
    const r = await runChaos({ seed: 7, jobs: 40, kills: 3, brokerRestarts: 1, drops: 2, stalls: 1, halfOpens: 0, diskFulls: 1, maxJobMs: 250, deadlineMs: 60_000 });
    expect(r.violations).toEqual([]);
    expect(r.jobs).toBe(40);
    expect(r.kills).toBe(3);
    expect(r.restarts).toBe(3);
    expect(r.brokerRestarts).toBe(1);
    expect(r.drops).toBe(2);
    expect(r.diskFulls).toBe(1);
    expect(r.diskFullHits).toBe(1);
    expect(r.diskResumes).toBe(1);
    expect(r.statusChecks).toBe(4);
    expect(Object.values(r.byStatus).reduce((a, b) => a + b, 0)).toBe(40);
  }, 90_000);
});

describe('chaos verdict', () => {
  const t = (jobId: string, from: string, to: string, reason?: string): Transition => ({ jobId, executionNumber: 1, from, to, by: 'device', ...(reason ? { statusDetails: { reason } } : {}) });
  const base = (): Evidence => ({
    jobs: [{ jobId: 'a', namespace: '', handler: 'record', outcome: 'SUCCEEDED' }],
    history: [t('a', 'QUEUED', 'IN_PROGRESS'), t('a', 'IN_PROGRESS', 'SUCCEEDED')],
    handlerLog: [
      { h: 'record', jobId: 'a', executionNumber: 1, event: 'start' },
      { h: 'record', jobId: 'a', executionNumber: 1, event: 'end', status: 'SUCCEEDED' },
    ],
    journaled: [{ jobId: 'a', status: 'SUCCEEDED' }],
    harness: [],
  });

  it('passes a clean run', () => {
    expect(checkChaos(base()).violations).toEqual([]);
  });

  it('flags a non-idempotent job that ran twice', () => {
    const e = base();
    const v = checkChaos({ ...e, handlerLog: [...e.handlerLog, { h: 'record', jobId: 'a', executionNumber: 1, event: 'start' }] });
    expect(v.violations.join('\n')).toMatch(/ran 2 times/);
  });

  it('flags a job killed mid-run that was not reported FAILED "interrupted"', () => {
    const e = base();
    const v = checkChaos({ ...e, handlerLog: e.handlerLog.slice(0, 1), journaled: [] });
    expect(v.violations.join('\n')).toMatch(/killed while running/);
    const ok = checkChaos({ ...e, handlerLog: e.handlerLog.slice(0, 1), journaled: [], history: [t('a', 'QUEUED', 'IN_PROGRESS'), t('a', 'IN_PROGRESS', 'FAILED', 'interrupted')] });
    expect(ok.violations).toEqual([]);
    expect(ok.interrupted).toBe(1);
  });

  it('flags a lost outcome, an execution left pending and a second terminal update', () => {
    const e = base();
    expect(checkChaos({ ...e, journaled: [{ jobId: 'a', status: 'FAILED', reason: 'asked to fail' }] }).violations.join('\n')).toMatch(/outcome lost/);
    expect(checkChaos({ ...e, history: e.history.slice(0, 1) }).violations.join('\n')).toMatch(/never reached a terminal status/);
    expect(checkChaos({ ...e, history: [...e.history, { ...t('a', 'SUCCEEDED', 'CANCELED'), by: 'service' }] }).violations.join('\n')).toMatch(/2 terminal transitions/);
  });

  it('flags an idempotent job that did not succeed and reports what the harness saw', () => {
    const e = base();
    const again: Evidence = { ...e, jobs: [{ jobId: 'a', namespace: 'fleet', handler: 'again', outcome: 'SUCCEEDED' }], history: [t('a', 'QUEUED', 'IN_PROGRESS'), t('a', 'IN_PROGRESS', 'FAILED', 'interrupted')], journaled: [], harness: ['status --config failed'] };
    const v = checkChaos(again).violations.join('\n');
    expect(v).toMatch(/policy rerun\) ended FAILED/);
    expect(v).toMatch(/status --config failed/);
  });
});
