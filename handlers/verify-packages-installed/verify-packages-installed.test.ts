import { createTestContext, runTestJob } from '../../src/index';
import { fakeApt, fakeTools } from '../../test/fixtures/fake-tools';
import verify from './index';
import type { PackagesDocument } from '../_shared/packages';

describe('verify-packages-installed handler', () => {
  it('succeeds only when every package (and pinned version) is installed', async () => {
    const t = fakeTools(['curl', 'jq']);
    const options = fakeApt(t);
    const run = (packages: string) => runTestJob(verify, createTestContext<PackagesDocument>({ document: { packages }, options }));
    await expect(run('curl jq')).resolves.toEqual({ result: { status: 'SUCCEEDED', details: { verified: 'curl jq' } } });
    await expect(run('curl jq=1.0-1')).resolves.toMatchObject({ result: { status: 'SUCCEEDED' } });
    await expect(run('curl vim jq=2.0')).resolves.toEqual({ result: { status: 'FAILED', details: { reason: 'not installed: vim jq=1.0-1' } } });
    expect(t.calls().filter((c) => c.startsWith('dpkg-query 0 -W')).length).toBe(7);
  });
});
