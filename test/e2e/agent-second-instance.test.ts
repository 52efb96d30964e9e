/**
 * A second agent started on a running agent's state directory (a second `run` by hand, a unit file
 * and a container both enabled) fails at the journal's lock, and it does so before it connects: the
 * agent starts its first connection attempt early, while the journal is read and compacted, but only
 * once it holds the lock. Had the second one connected, the broker would have closed the first one's
 * connection for the shared client id.
 */
import { AgentProcess, agentConfig, waitFor, type LogLine } from '../support/agent-proc';
import { startStack, type Stack } from '../support/stack';
import { createJob, handlerRuns, statusOf } from './helpers';

jest.setTimeout(60_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ things: ['twice'] });
});
afterAll(async () => {
  await stack.close();
});

const isConnected = (l: LogLine): boolean => l.msg === 'connected to the broker';
const isDisconnected = (l: LogLine): boolean => l.msg === 'disconnected from the broker; reconnecting';

it('a second agent on the same state directory exits at the lock without touching the first one’s connection', async () => {
  const setup = await agentConfig(stack, 'twice', 'twice');
  const first = new AgentProcess(['run', '--config', setup.configFile]);
  try {
    await first.waitForLog(isConnected);
    const second = new AgentProcess(['run', '--config', setup.configFile]);
    const { code } = await second.exited;
    expect(code).not.toBe(0);
    expect(second.raw.join('\n')).toContain(`is in use by process ${first.child.pid ?? ''}`);
    expect(second.lines.filter(isConnected)).toEqual([]);
    // A round trip through the first agent after the second has gone: a take-over would have closed
    // its connection (and it would have said so) before this job could run.
    await createJob(stack, 'after-second', 'twice', { operation: 'record' });
    await waitFor(() => statusOf(stack, 'after-second', 'twice') === 'SUCCEEDED', 'after-second to succeed', 30_000);
    expect(handlerRuns(setup.handlerLog).map((r) => r.jobId)).toEqual(['after-second']);
    expect(first.lines.filter(isDisconnected)).toEqual([]);
    expect(first.count(isConnected)).toBe(1);
  } finally {
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
  }
});
