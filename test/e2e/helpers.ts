/** Shared steps of the agent end-to-end tests. */
import { execFile } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { CreateJobCommand } from '@aws-sdk/client-iot';
import { BIN } from '../support/agent-proc';
import type { Stack } from '../support/stack';

const run = promisify(execFile);

/** What `iot-jobs-agent status` prints for the agent of `configFile`. */
export async function agentStatus(configFile: string): Promise<string> {
  const r = await run(process.execPath, [BIN, 'status', '--config', configFile], { env: { PATH: process.env.PATH } });
  return r.stdout;
}

export function createJob(stack: Stack, jobId: string, thing: string, document: object, o: { namespaceId?: string } = {}): Promise<unknown> {
  return stack.iot.send(
    new CreateJobCommand({
      jobId,
      targets: [`arn:aws:iot:us-east-1:123456789012:thing/${thing}`],
      document: JSON.stringify(document),
      ...(o.namespaceId ? { namespaceId: o.namespaceId } : {}),
    }),
  );
}

export function handlerRuns(file: string): Record<string, unknown>[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The execution's status as the service sees it. */
export function statusOf(stack: Stack, jobId: string, thing: string): string | undefined {
  const r = stack.sim.runtime.service.describeJobExecutionControl(jobId, thing);
  return r.ok ? String(r.value.execution.status) : undefined;
}

/** Device-made transitions of one job, from the service's own record. */
export function deviceTransitions(stack: Stack, jobId: string): { from: string; to: string }[] {
  return stack.sim.runtime.service
    .history()
    .filter((h) => h.jobId === jobId && h.by === 'device')
    .map((h) => ({ from: h.from, to: h.to }));
}

export function terminalCount(stack: Stack, jobId: string, status: string): number {
  return deviceTransitions(stack, jobId).filter((t) => t.to === status && t.from !== status).length;
}
