/** docs/PROTOCOL.md §9: the worked two-job sequence, asserting every publication exactly. */
import { makeSim, S0 } from './sim-harness';

const P = '$aws/things/t1/jobs';

describe('§9 worked sequence (one thing, two jobs)', () => {
  it('produces exactly the documented traffic', () => {
    const sim = makeSim();
    const doc1 = { ToDo: 'Reboot' };
    const doc2 = { ToDo: 'Delete Root User' };

    // 1. get on an idle thing
    expect(sim.mqtt('get', { clientToken: 'a' })).toEqual([
      {
        topic: `${P}/get/accepted`,
        to: 'c1',
        thing: 't1',
        kind: 'response',
        payload: { clientToken: 'a', timestamp: S0, inProgressJobs: [], queuedJobs: [] },
      },
    ]);

    // 2. Job1 created: notify + notify-next
    const j1v1 = { jobId: 'Job1', queuedAt: S0, lastUpdatedAt: S0, executionNumber: 1, versionNumber: 1 };
    expect(sim.job('Job1', { document: JSON.stringify(doc1) })).toEqual([
      { topic: `${P}/notify`, thing: 't1', kind: 'notification', payload: { timestamp: S0, jobs: { QUEUED: [j1v1] } } },
      {
        topic: `${P}/notify-next`,
        thing: 't1',
        kind: 'notification',
        payload: { timestamp: S0, execution: { ...j1v1, status: 'QUEUED', jobDocument: doc1 } },
      },
    ]);

    // 3. Job2 queued behind the head: notify only
    sim.clock.advance(2000);
    const S2 = S0 + 2;
    const j2v1 = { jobId: 'Job2', queuedAt: S2, lastUpdatedAt: S2, executionNumber: 1, versionNumber: 1 };
    expect(sim.job('Job2', { document: JSON.stringify(doc2) })).toEqual([
      { topic: `${P}/notify`, thing: 't1', kind: 'notification', payload: { timestamp: S2, jobs: { QUEUED: [j1v1, j2v1] } } },
    ]);

    // 4. start-next: response only
    sim.clock.advance(3000);
    const S5 = S0 + 5;
    const j1v2 = { ...j1v1, lastUpdatedAt: S5, startedAt: S5, versionNumber: 2 };
    expect(sim.mqtt('start-next', { clientToken: 'b' })).toEqual([
      {
        topic: `${P}/start-next/accepted`,
        to: 'c1',
        thing: 't1',
        kind: 'response',
        payload: { clientToken: 'b', timestamp: S5, execution: { ...j1v2, status: 'IN_PROGRESS', jobDocument: doc1 } },
      },
    ]);

    // 5. get: J1 in progress, J2 queued
    expect(sim.mqtt('get', { clientToken: 'c' })).toEqual([
      expect.objectContaining({ payload: { clientToken: 'c', timestamp: S5, inProgressJobs: [j1v2], queuedJobs: [j2v1] } }),
    ]);

    // 6. progress update: accepted only
    expect(sim.mqtt('Job1/update', { clientToken: 'd', status: 'IN_PROGRESS', expectedVersion: 2, statusDetails: { p: '50' } })).toEqual([
      { topic: `${P}/Job1/update/accepted`, to: 'c1', thing: 't1', kind: 'response', payload: { clientToken: 'd', timestamp: S5 } },
    ]);

    // 7. SUCCEEDED: accepted, then notify + notify-next naming Job2
    const step7 = sim.mqtt('Job1/update', { clientToken: 'e', status: 'SUCCEEDED', expectedVersion: 3 });
    expect(step7).toEqual([
      { topic: `${P}/Job1/update/accepted`, to: 'c1', thing: 't1', kind: 'response', payload: { clientToken: 'e', timestamp: S5 } },
      { topic: `${P}/notify`, thing: 't1', kind: 'notification', payload: { timestamp: S5, jobs: { QUEUED: [j2v1] } } },
      {
        topic: `${P}/notify-next`,
        thing: 't1',
        kind: 'notification',
        payload: { timestamp: S5, execution: { ...j2v1, status: 'QUEUED', jobDocument: doc2 } },
      },
    ]);

    // 8. duplicate of step 7: VersionMismatch carrying the state the first copy set
    expect(sim.mqtt('Job1/update', { clientToken: 'e', status: 'SUCCEEDED', expectedVersion: 3 })).toEqual([
      {
        topic: `${P}/Job1/update/rejected`,
        to: 'c1',
        thing: 't1',
        kind: 'response',
        payload: {
          code: 'VersionMismatch',
          message: 'Expected version 3 but found version 4',
          clientToken: 'e',
          timestamp: S5,
          executionState: { status: 'SUCCEEDED', versionNumber: 4, statusDetails: { p: '50' } },
        },
      },
    ]);

    // 9. start-next Job2, then FAILED: empty notify and bare notify-next
    const started = sim.mqtt('start-next', { clientToken: 'f' });
    expect(started).toHaveLength(1);
    expect(started[0]!.payload).toMatchObject({ execution: { jobId: 'Job2', status: 'IN_PROGRESS', versionNumber: 2 } });
    expect(sim.mqtt('Job2/update', { clientToken: 'g', status: 'FAILED' })).toEqual([
      { topic: `${P}/Job2/update/accepted`, to: 'c1', thing: 't1', kind: 'response', payload: { clientToken: 'g', timestamp: S5 } },
      { topic: `${P}/notify`, thing: 't1', kind: 'notification', payload: { timestamp: S5, jobs: {} } },
      { topic: `${P}/notify-next`, thing: 't1', kind: 'notification', payload: { timestamp: S5 } },
    ]);

    expect(sim.svc.history().map((h) => `${h.jobId}:${h.from}>${h.to}:${h.by}`)).toEqual([
      'Job1:NONE>QUEUED:service',
      'Job2:NONE>QUEUED:service',
      'Job1:QUEUED>IN_PROGRESS:device',
      'Job1:IN_PROGRESS>IN_PROGRESS:device',
      'Job1:IN_PROGRESS>SUCCEEDED:device',
      'Job2:QUEUED>IN_PROGRESS:device',
      'Job2:IN_PROGRESS>FAILED:device',
    ]);
  });
});
