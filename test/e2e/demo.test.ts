/** `npm run demo` as users run it: everything on the embedded default, each job to its expected status, exit 0. */
import { AgentProcess } from '../support/agent-proc';

it('demo runs the sim, the agent and the sample jobs to their expected statuses', async () => {
  const p = new AgentProcess(['demo']);
  const { code } = await p.exited;
  const out = p.raw.join('\n');
  expect(out).toMatch(/All jobs reached the expected status/);
  for (const line of ['kernel-report\\s+SUCCEEDED', 'fleet-inventory\\s+SUCCEEDED', 'config-push\\s+FAILED', 'long-migration\\s+CANCELED', 'mystery-op\\s+REJECTED', 'flaky-download\\s+SUCCEEDED\\s+#2']) {
    expect(out).toMatch(new RegExp(line));
  }
  expect(code).toBe(0);
});
