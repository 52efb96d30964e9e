import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createTestContext, runTestJob } from '../../src/index';
import healthCheck, { type HealthCheckDocument } from './index';

const run = (document: unknown, options: Record<string, unknown> = {}) =>
  runTestJob(healthCheck, createTestContext<HealthCheckDocument>({ document: document as HealthCheckDocument, options }));

describe('health-check handler', () => {
  it('succeeds with no thresholds and reports what it measured', async () => {
    const r = await run({});
    expect(r).toEqual({
      result: { status: 'SUCCEEDED', details: { disk: expect.stringMatching(/^\/ [\d.]+% free$/), memory: expect.stringMatching(/% available$/), loadPerCpu: expect.any(String) } },
    });
  });

  it('fails when a threshold is crossed, saying which', async () => {
    const ctx = createTestContext({ document: {} });
    const meminfo = path.join(ctx.workDir, 'meminfo');
    writeFileSync(meminfo, 'MemTotal:       1000000 kB\nMemFree:          10000 kB\nMemAvailable:     20000 kB\n');
    const r = await run({ minFreeDiskPercent: 100, minAvailableMemoryPercent: 5, paths: ['/', ctx.workDir] }, { meminfoPath: meminfo });
    expect(r).toMatchObject({ result: { status: 'FAILED', details: { memory: '2.0% available' } } });
    const reason = (r as { result: { details: Record<string, string> } }).result.details.reason;
    expect(reason).toMatch(/^\/ has [\d.]+% free \(< 100%\); .* has [\d.]+% free \(< 100%\); memory 2\.0% available \(< 5%\)$/);
  });

  it.each([
    [{ minFreeDiskPercent: 101 }, 'minFreeDiskPercent'],
    [{ paths: ['relative'] }, 'paths'],
    [{ maxLoadPerCpu: 0 }, 'maxLoadPerCpu'],
  ])('rejects %j', async (doc, reason) => {
    await expect(run(doc)).resolves.toEqual({ rejected: expect.stringContaining(reason) });
  });
});
