import { createTestContext, runTestJob } from '../../src/index';
import { fakeApt, fakeTools } from '../../test/fixtures/fake-tools';
import verify from './index';
import type { PackagesDocument } from '../_shared/packages';

describe('verify-packages-removed handler', () => {
  it('succeeds only when no listed package is installed', async () => {
    const t = fakeTools(['curl']);
    const options = fakeApt(t);
    const run = (packages: string[]) => runTestJob(verify, createTestContext<PackagesDocument>({ document: { packages }, options }));
    await expect(run(['vim', 'nano'])).resolves.toEqual({ result: { status: 'SUCCEEDED', details: { verified: 'vim nano' } } });
    await expect(run(['vim', 'curl'])).resolves.toEqual({ result: { status: 'FAILED', details: { reason: 'still installed: curl=1.0-1' } } });
  });
});
