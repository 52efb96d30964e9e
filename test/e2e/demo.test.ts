/** `npm run demo` as users run it: everything on the embedded default, signed jobs, each job to its expected status, exit 0. */
import { AgentProcess } from '../support/agent-proc';

it('demo runs the sim, the agent and the sample jobs to their expected statuses', async () => {
  const p = new AgentProcess(['demo']);
  const { code } = await p.exited;
  const out = p.raw.join('\n');
  expect(out).toMatch(/All jobs reached the expected status/);
  for (const line of ['kernel-report\\s+SUCCEEDED', 'fleet-inventory\\s+SUCCEEDED', 'config-push\\s+FAILED', 'long-migration\\s+CANCELED', 'mystery-op\\s+REJECTED', 'flaky-download\\s+SUCCEEDED\\s+#2', 'whoami-managed\\s+REJECTED\\s+#1\\s+from the AWS managed template AWS-Run-Command: unsigned']) {
    expect(out).toMatch(new RegExp(line));
  }
  // Signed jobs run; the managed template's document cannot carry a signature and never starts.
  expect(out).toMatch(/kernel-report\s+SUCCEEDED {2}signed by demo-operator/);
  // A second device enrols by claim and runs the CONTINUOUS job of its template's group.
  expect(out).toMatch(/ok {2}fleet-welcome\s+SUCCEEDED\s+#1  CONTINUOUS group job, run by demo-sensor-0001/);
  expect(out).toMatch(/enrolled as thing demo-sensor-0001/);
  expect(out).toMatch(/whoami-managed\s+REJECTED {2}signature check: unsigned/);
  expect(out).not.toMatch(/whoami-managed\s+IN_PROGRESS/);
  expect(out).toMatch(/ok {2}jobs started in the order they were created: kernel-report, firmware-1-2, fleet-inventory, config-push, long-migration, mystery-op, whoami-managed, flaky-download, flaky-download #2\n/);
  expect(code).toBe(0);
});
