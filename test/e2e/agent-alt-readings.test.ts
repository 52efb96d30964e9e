/**
 * The agent against the other reading of every open point that decides its behaviour (docs/PROTOCOL.md §10): the
 * API reference's namespaced notify topic, TerminalStateReached for updates and describes of a
 * terminal execution, ThrottlingException as HTTP 400, statusDetails refusing every control
 * character (line feeds too), presigned URLs kept path-style. The agent must work the same.
 */
import { CancelJobCommand } from '@aws-sdk/client-iot';
import { AgentProcess, agentConfig, waitFor } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { createJob, deviceTransitions, handlerRuns, statusOf } from './helpers';

let stack: Stack;
const procs: AgentProcess[] = [];

beforeAll(async () => {
  stack = await startStack({
    things: ['alt-thing'],
    sim: {
      options: {
        namespaceNotifyForm: 'doc',
        terminalUpdateCode: 'TerminalStateReached',
        describeTerminal: 'TerminalStateReached',
        throttlingStatus: 400,
        mqttThingName: true,
        allowRejectFromInProgress: true,
        statusDetailsControlChars: 'strict',
        presignedUrlStyle: 'as-written',
      },
    },
  });
});
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await stack.close();
});

describe('agent under the alternative protocol readings', () => {
  it('fetches on the API-reference notify topic, aborts a force-canceled job, retries HTTP-400 throttling', async () => {
    const thing = 'alt-thing';
    const setup = await agentConfig(stack, thing, 'alt', { jobs: { namespaces: ['altns'] } });
    const agent = new AgentProcess(['run', '--config', setup.configFile]);
    procs.push(agent);
    await agent.waitForLog((l) => l.msg === 'connected to the broker');
    // Only the `…/jobs/{jobId}/notify-namespace-{ns}/` form is emitted: the agent must still notice.
    await createJob(stack, 'alt-ns', thing, { operation: 'record' }, { namespaceId: 'altns' });
    await agent.waitForLog((l) => l.msg === 'outcome reported' && l.jobId === 'alt-ns');
    expect(statusOf(stack, 'alt-ns', thing)).toBe('SUCCEEDED');

    await createJob(stack, 'alt-cancel', thing, { operation: 'record', ms: 60_000 });
    await waitFor(() => handlerRuns(setup.handlerLog).some((r) => r.jobId === 'alt-cancel'), 'alt-cancel to start');
    await stack.iot.send(new CancelJobCommand({ jobId: 'alt-cancel', force: true }));
    await agent.waitForLog((l) => l.msg === 'job ended in the cloud; nothing to report' && l.jobId === 'alt-cancel');
    expect(statusOf(stack, 'alt-cancel', thing)).toBe('CANCELED');
    expect(deviceTransitions(stack, 'alt-cancel').every((t) => t.to === 'IN_PROGRESS')).toBe(true);

    stack.sim.runtime.service.setFaults(thing, { throttle: 0.5 });
    await createJob(stack, 'alt-throttled', thing, { operation: 'record' }, { namespaceId: 'altns' });
    await agent.waitForLog((l) => l.msg === 'outcome reported' && l.jobId === 'alt-throttled', 45_000);
    stack.sim.runtime.service.setFaults(thing, {});
    expect(statusOf(stack, 'alt-throttled', thing)).toBe('SUCCEEDED');

    // Output with line feeds, as the Device Client's documents produce it: the agent's sanitiser makes
    // it pass even where the service refuses every control character (§10.23).
    await createJob(stack, 'alt-lines', thing, {
      version: '1.0',
      includeStdOut: 'true',
      steps: [{ action: { name: 'two-lines', type: 'runCommand', input: { command: 'printf,one\\ntwo\\n' }, runAsUser: '' } }],
    });
    await agent.waitForLog((l) => l.msg === 'outcome reported' && l.jobId === 'alt-lines');
    expect(statusOf(stack, 'alt-lines', thing)).toBe('SUCCEEDED');
    const details = stack.sim.runtime.service.describeJobExecutionControl('alt-lines', thing);
    const stdout = details.ok ? (details.value.execution.statusDetails as { detailsMap: Record<string, string> }).detailsMap.stdout : undefined;
    expect(stdout).toMatch(/^one.two.?$/);
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });
});
