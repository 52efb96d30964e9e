/**
 * Managed-template documents whose outcome only a restarted agent can know, end to end with the
 * real agent process: AWS-Reboot (a stand-in reboot command; the "reboot" is simulated by a new
 * boot id in the file the reboot handler reads) and AWS-Restart-Application naming the agent's own
 * unit (a stand-in systemctl). Nothing may be reported as done before the restart.
 */
import { writeFileSync } from 'node:fs';
import { AgentProcess, agentConfig, waitFor } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { deviceClientEnv, describeOutcome, useDeviceClientEnv, type DeviceClientEnv } from '../fixtures/device-client-env';
import { createJob, deviceTransitions, statusOf } from './helpers';

let stack: Stack;
let env: DeviceClientEnv;
const procs: AgentProcess[] = [];

beforeAll(async () => {
  stack = await startStack({ things: ['rb-ok', 'rb-none', 'self-restart'] });
  env = await deviceClientEnv(stack, []);
}, 60_000);

afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await env?.close();
  await stack?.close();
});

function start(configFile: string): AgentProcess {
  const p = new AgentProcess(['run', '--config', configFile]);
  procs.push(p);
  return p;
}

const calls = (name: string): string[] => [...env.tools.calls(), ...env.services.calls()].filter((c) => c.startsWith(`${name} `));

/**
 * Starts an agent for `thing`, runs `fixture` until the stand-in command named `tool` has been
 * called, checks nothing final was reported, and stops the agent with SIGTERM as systemd would.
 */
async function runUntilRestart(thing: string, jobId: string, fixture: string, tool: string): Promise<string> {
  const setup = await agentConfig(stack, thing, thing);
  await useDeviceClientEnv(setup, env);
  const first = start(setup.configFile);
  await first.waitForLog((l) => l.msg === 'connected to the broker');
  const before = calls(tool).length;
  await createJob(stack, jobId, thing, env.load(fixture));
  await waitFor(() => calls(tool).length > before, `the ${tool} stand-in to be called`);
  expect(statusOf(stack, jobId, thing)).toBe('IN_PROGRESS');
  first.kill('SIGTERM');
  expect((await first.exited).code).toBe(0);
  expect(first.count((l) => l.msg === 'job left for recovery at the next start' && l.jobId === jobId)).toBe(1);
  // Still undecided in the cloud: only IN_PROGRESS (and progress updates) were ever reported.
  expect(statusOf(stack, jobId, thing)).toBe('IN_PROGRESS');
  expect(new Set(deviceTransitions(stack, jobId).map((t) => t.to))).toEqual(new Set(['IN_PROGRESS']));
  return setup.configFile;
}

async function restartAndWait(configFile: string, jobId: string): Promise<AgentProcess> {
  const again = start(configFile);
  await again.waitForLog((l) => l.msg === 'outcome reported' && l.jobId === jobId);
  return again;
}

describe('documents decided after an agent restart', () => {
  it('AWS-Reboot: SUCCEEDED after the restart when the boot id changed, the reboot requested once', async () => {
    writeFileSync(env.bootIdFile, 'boot-1\n');
    const configFile = await runUntilRestart('rb-ok', 'reboot-ok', 'aws-reboot.json', 'reboot');
    writeFileSync(env.bootIdFile, 'boot-2\n'); // the device came back from a real reboot
    const again = await restartAndWait(configFile, 'reboot-ok');
    await expect(describeOutcome(stack, 'reboot-ok', 'rb-ok')).resolves.toEqual({ status: 'SUCCEEDED', details: { steps: '1' } });
    expect(calls('reboot')).toEqual(['reboot 0 --now']);
    again.kill('SIGTERM');
    await again.exited;
  });

  it('AWS-Reboot: FAILED with the reason when the agent restarted but the device did not reboot', async () => {
    writeFileSync(env.bootIdFile, 'boot-3\n');
    const configFile = await runUntilRestart('rb-none', 'reboot-none', 'aws-reboot.json', 'reboot');
    const again = await restartAndWait(configFile, 'reboot-none');
    await expect(describeOutcome(stack, 'reboot-none', 'rb-none')).resolves.toEqual({
      status: 'FAILED',
      details: { bootId: 'boot-3', step: 'Reboot', reason: 'step "Reboot" failed: the boot id did not change: the device did not reboot' },
    });
    expect(calls('reboot')).toHaveLength(2); // one per job: never requested again on resume
    again.kill('SIGTERM');
    await again.exited;
  });

  it("AWS-Restart-Application on the agent's own unit: queued with --no-block, SUCCEEDED by the new agent process", async () => {
    const configFile = await runUntilRestart('self-restart', 'restart-self', 'aws-restart-agent-service.json', 'systemctl');
    expect(calls('systemctl').at(-1)).toBe('systemctl 0 restart --no-block iot-jobs-agent');
    const again = await restartAndWait(configFile, 'restart-self');
    await expect(describeOutcome(stack, 'restart-self', 'self-restart')).resolves.toEqual({ status: 'SUCCEEDED', details: { steps: '1' } });
    expect(calls('systemctl')).toHaveLength(1);
    again.kill('SIGTERM');
    await again.exited;
  });
});
