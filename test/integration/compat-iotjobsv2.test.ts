/**
 * AWS's own device client, `IotJobsClientv2` from aws-iot-device-sdk-v2 (aws-crt), runs the job
 * lifecycle of its own service test (queue → notify → start-next → describe → SUCCEEDED → notify)
 * against the local Jobs service through mosquitto, over MQTT 5 and MQTT 3.1.1. The SDK runs in a
 * child process (see test/support/crt-jobs-lifecycle.js for why).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ things: ['crt5', 'crt311'] });
});
afterAll(async () => {
  await stack.close();
});

interface Run {
  ok: boolean;
  error?: string;
  jobId?: string;
  steps: Record<string, { [k: string]: unknown } | string | undefined>;
}

function runSdk(version: 5 | 311, thingName: string): Promise<Run> {
  const f = stack.pki.things[thingName];
  if (!f) throw new Error(`no certificate for ${thingName}`);
  const arg = JSON.stringify({ version, host: 'localhost', port: stack.broker.port, caFile: stack.pki.caFile, ...f, thingName, controlPlane: stack.sim.endpoints.controlPlane });
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(__dirname, '..', 'support', 'crt-jobs-lifecycle.js'), arg], { timeout: 60_000 }, (_err, stdout, stderr) => {
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (!line) return reject(new Error(`SDK process printed no result. stderr: ${stderr.slice(-2000)}`));
      resolve(JSON.parse(line) as Run);
    });
  });
}

describe.each([
  [5, 'crt5'],
  [311, 'crt311'],
] as const)('IotJobsClientv2 over MQTT %s against the sim', (version, thing) => {
  it('runs the full job lifecycle with notifications', async () => {
    const r = await runSdk(version, thing);
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    const s = r.steps as Record<string, any>;
    expect(s.idle).toMatchObject({ inProgressJobs: [], queuedJobs: [] });
    expect(s.queuedNotify.jobs.QUEUED[0].jobId).toBe(r.jobId);
    expect(s.queuedNext.execution).toMatchObject({ jobId: r.jobId, status: 'QUEUED' });
    expect(s.started.execution).toMatchObject({ jobId: r.jobId, status: 'IN_PROGRESS', versionNumber: 2, jobDocument: { test: 'do-something' } });
    expect(s.described.execution.status).toBe('IN_PROGRESS');
    expect(s.finalNotify.jobs).toEqual({});
    expect(typeof s.finalNext.timestamp).toBe('number');
    expect(s.finalNext.execution).toBeUndefined();
    expect(s.after).toMatchObject({ inProgressJobs: [], queuedJobs: [] });
    expect(s.missing).toBe('ResourceNotFound');
  });
});
