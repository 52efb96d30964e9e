import { createTestContext, runTestJob } from '../../src/index';
import { fakeApt, fakeTools } from '../../test/fixtures/fake-tools';
import remove from './index';
import type { PackagesDocument } from '../_shared/packages';

describe('remove-packages handler', () => {
  it('removes, or purges when asked', async () => {
    const t = fakeTools(['curl', 'jq', 'vim']);
    const options = fakeApt(t);
    await expect(runTestJob(remove, createTestContext<PackagesDocument>({ document: { packages: ['curl'] }, options }))).resolves.toEqual({
      result: { status: 'SUCCEEDED', details: { removed: 'curl' } },
    });
    await expect(runTestJob(remove, createTestContext<PackagesDocument>({ document: { packages: 'jq', purge: true }, options }))).resolves.toMatchObject({
      result: { status: 'SUCCEEDED' },
    });
    expect(t.installed()).toEqual(['vim']);
    expect(t.calls()).toEqual(['apt-get 0 remove -y -q curl', 'apt-get 0 purge -y -q jq']);
  });
});
