import { verifyJob } from '../../src/trust';
import { NOW, envelope, fleet, payload } from '../support/trust';

test('smoke', () => {
  const f = fleet();
  const v = verifyJob({ document: envelope(payload(), [f.ci]), trust: f.store, execution: { jobId: 'job-1', namespace: '' }, identity: { thingName: 'gw-1', labels: [] }, now: NOW });
  expect(v).toMatchObject({ ok: true, kids: ['ci-1'] });
});
