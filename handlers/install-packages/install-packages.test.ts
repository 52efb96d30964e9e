import { createTestContext, runTestJob } from '../../src/index';
import { fakeApt, fakeTools } from '../../test/fixtures/fake-tools';
import install from './index';
import type { PackagesDocument } from '../_shared/packages';

describe('install-packages handler', () => {
  it('installs with apt-get non-interactively, packages as a list or a space-separated string', async () => {
    const t = fakeTools();
    const options = fakeApt(t);
    const r = await runTestJob(install, createTestContext<PackagesDocument>({ document: { packages: 'curl  jq' }, options }));
    expect(r).toEqual({ result: { status: 'SUCCEEDED', details: { installed: 'curl jq' } } });
    expect(t.installed()).toEqual(['curl', 'jq']);
    expect(t.calls()).toEqual(['apt-get 0 install -y -q curl jq']);
  });

  it('runs apt-get update first when asked, as the given user', async () => {
    const t = fakeTools();
    const ctx = createTestContext<PackagesDocument>({ document: { packages: ['curl'], update: true, runAsUser: 'nobody' }, options: fakeApt(t) });
    await expect(runTestJob(install, ctx)).resolves.toMatchObject({ result: { status: 'SUCCEEDED' } });
    expect(t.calls()).toEqual(['apt-get 65534 update -q', 'apt-get 65534 install -y -q curl']);
    expect(ctx.progressCalls).toEqual([{ step: 'apt-get update' }, { step: 'apt-get install' }]);
  });

  it('fails with apt-get\'s own words', async () => {
    const t = fakeTools();
    const r = await runTestJob(install, createTestContext<PackagesDocument>({ document: { packages: ['broken'] }, options: fakeApt(t) }));
    expect(r).toEqual({
      result: { status: 'FAILED', details: { reason: 'apt-get install failed', exitStatus: 'exit 100', stderr: 'E: Unable to locate package broken' } },
    });
  });

  it('rejects where there is no apt-get, naming what the system has', async () => {
    const t = fakeTools();
    const ctx = createTestContext<PackagesDocument>({ document: { packages: ['curl'] }, options: { aptGet: `${t.dir}/none`, dpkgQuery: `${t.dir}/none` } });
    await expect(install.run(ctx)).rejects.toThrow(/install-packages supports apt-get\/dpkg \(Debian-like systems\) only/);
  });

  it.each([
    [{ packages: [] }, 'at least one package'],
    [{ packages: '-o APT::x=1' }, 'not a valid package name: "-o"'],
    [{ packages: ['curl;reboot'] }, 'not a valid package name'],
    [{ packages: ['curl'], update: 'yes' }, 'update must be'],
    [{ packages: ['curl'], runAsUser: 0 }, 'runAsUser must be a string'],
  ])('rejects %j', async (doc, reason) => {
    await expect(runTestJob(install, createTestContext({ document: doc as unknown as PackagesDocument }))).resolves.toEqual({ rejected: expect.stringContaining(reason) });
  });
});
