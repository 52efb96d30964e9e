/**
 * A full flash, for real: the agent's state directory is a 256 KiB tmpfs that `dd` fills (ENOSPC).
 * Full mid-work with jobs in flight, during an outcome (and a kill -9 before space returns), while
 * compacting on stop and at the next start. The agent must stay up, report every outcome it
 * produced, start nothing it cannot record, say what is wrong (log, STATUS, `status`), and resume
 * by itself once space returns. Verdicts come from the service's own record and the handler's log.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { AgentProcess, agentConfig, BIN, waitFor } from '../support/agent-proc';
import type { AgentSetup, LogLine } from '../support/agent-proc';
import { NotifySocket, SmallDisk } from '../support/device-faults';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { createJob, handlerRuns, statusOf, terminalCount } from './helpers';

let stack: Stack;
const procs: AgentProcess[] = [];
const disks: SmallDisk[] = [];
const sockets: NotifySocket[] = [];

beforeAll(async () => {
  stack = await startStack({ things: ['disk-busy', 'disk-outcome', 'disk-boot'] });
});
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  for (const s of sockets) s.close();
  for (const d of disks) await d.unmount();
  await stack.close();
});

async function setupOnSmallDisk(thing: string, jobs: Record<string, unknown> = {}): Promise<{ setup: AgentSetup; disk: SmallDisk }> {
  const setup = await agentConfig(stack, thing, thing, { jobs });
  const disk = await SmallDisk.mount(setup.stateDir);
  disks.push(disk);
  return { setup, disk };
}

function start(setup: AgentSetup, env: NodeJS.ProcessEnv = {}): AgentProcess {
  const p = new AgentProcess(['run', '--config', setup.configFile], env);
  procs.push(p);
  return p;
}

function status(setup: AgentSetup): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [BIN, 'status', '--config', setup.configFile], (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
}

const msg = (m: string, jobId?: string) => (l: LogLine) => l.msg === m && (jobId === undefined || l.jobId === jobId);
const reported = (jobId: string) => msg('outcome reported', jobId);
const started = (jobId: string) => msg('job started', jobId);
const unwritable = (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith('the state directory cannot be written') && l.code === 'ENOSPC';
const writableAgain = (l: LogLine) => typeof l.msg === 'string' && l.msg.startsWith('the state directory can be written again');
const runsOf = (setup: AgentSetup, jobId: string) => handlerRuns(setup.handlerLog).filter((r) => r.jobId === jobId).length;

/**
 * dd fills every free page, but the journal's last page still has room: a flash fills up record by
 * record, not at once. Short jobs are fed until a journal write fails; they are the device's real
 * last writes. Returns their ids.
 */
async function useUpLastPage(agent: AgentProcess, thing: string, prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 1; i <= 40 && agent.count(unwritable) === 0; i++) {
    const id = `${prefix}-${i}`;
    ids.push(id);
    await createJob(stack, id, thing, { operation: 'record' });
    await agent.waitForLog((l) => reported(id)(l) || unwritable(l) || msg('job queued', id)(l));
    await agent.waitForLog((l) => reported(id)(l) || unwritable(l));
  }
  if (agent.count(unwritable) === 0) throw new Error('the journal never hit ENOSPC');
  return ids;
}

describe('a full state directory', () => {
  it('mid-work with 4 jobs in flight: their outcomes are reported, nothing new starts, and work resumes by itself when space returns', async () => {
    const thing = 'disk-busy';
    const { setup, disk } = await setupOnSmallDisk(thing, { concurrency: 5 });
    const agent = start(setup);
    await agent.waitForLog(msg('connected to the broker'));
    const inFlight = ['busy-1', 'busy-2', 'busy-3', 'busy-4'];
    for (const j of inFlight) await createJob(stack, j, thing, { operation: 'record', ms: 8000, progress: true });
    for (const j of inFlight) await agent.waitForLog(started(j));
    await disk.fill();
    const fillers = await useUpLastPage(agent, thing, 'busy-fill');
    const full = agent.lines.findIndex(unwritable);
    // Every outcome produced while full still reaches the service.
    for (const j of inFlight) await agent.waitForLog(reported(j));
    for (const j of inFlight) {
      expect(agent.lines.findIndex(msg('job finished', j))).toBeGreaterThan(full);
      expect(statusOf(stack, j, thing)).toBe('SUCCEEDED');
    }
    // A start the journal cannot record never happens: new jobs wait QUEUED, their handler unrun.
    const later = ['later-1', 'later-2', 'later-3'];
    for (const j of later) await createJob(stack, j, thing, { operation: 'record', ms: 100 });
    for (const j of later) await agent.waitForLog(msg('job queued', j));
    for (const j of later) {
      expect(statusOf(stack, j, thing)).toBe('QUEUED');
      expect(runsOf(setup, j)).toBe(0);
    }
    expect(await status(setup)).toMatch(/storage: PROBLEM ENOSPC/);

    await disk.free();
    await agent.waitForLog(writableAgain, 60_000);
    for (const j of [...fillers, ...later]) await agent.waitForLog(reported(j), 60_000);
    for (const j of [...inFlight, ...fillers, ...later]) {
      expect(statusOf(stack, j, thing)).toBe('SUCCEEDED');
      expect(terminalCount(stack, j, 'SUCCEEDED')).toBe(1);
      expect(runsOf(setup, j)).toBe(1);
    }
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    // The journal caught up: every outcome is recorded as reported.
    const view = await status(setup);
    expect(view).toMatch(/storage: ok/);
    expect(view).toMatch(/outbox: 0 update\(s\) waiting/);
    expect(view).toMatch(/current: none/);
    for (const j of [...inFlight, ...later]) expect(view).toMatch(new RegExp(`${j}#1\\s+SUCCEEDED.*\\[reported\\]`));
  });

  it('during an outcome: it is reported from memory; a kill -9 before space returns changes nothing in the cloud', async () => {
    const thing = 'disk-outcome';
    const { setup, disk } = await setupOnSmallDisk(thing, { concurrency: 2 });
    const first = start(setup);
    await first.waitForLog(msg('connected to the broker'));
    await createJob(stack, 'out-1', thing, { operation: 'record', ms: 6000 });
    await first.waitForLog(started('out-1'));
    await disk.fill();
    await useUpLastPage(first, thing, 'out-fill');
    await first.waitForLog(reported('out-1'));
    expect(first.lines.findIndex(msg('job finished', 'out-1'))).toBeGreaterThan(first.lines.findIndex(unwritable));
    expect(statusOf(stack, 'out-1', thing)).toBe('SUCCEEDED');
    // On disk the execution is still only started: the outcome lived in memory alone.
    expect(await status(setup)).toMatch(/current: .*out-1#1 \(record, started/);
    first.kill('SIGKILL');
    await first.exited;
    await disk.free();
    // The restart policy ("fail") reports FAILED "interrupted", which the service refuses: the
    // execution is already SUCCEEDED. Nothing reruns, nothing changes.
    const second = start(setup);
    await second.waitForLog(reported('out-1'));
    expect(statusOf(stack, 'out-1', thing)).toBe('SUCCEEDED');
    expect(terminalCount(stack, 'out-1', 'SUCCEEDED')).toBe(1);
    expect(runsOf(setup, 'out-1')).toBe(1);
    second.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });

  it('while compacting on stop and at the next start: exit 0, then up and connected on a full disk, STATUS says why, and the queued job runs once space returns', async () => {
    const thing = 'disk-boot';
    const { setup, disk } = await setupOnSmallDisk(thing);
    const first = start(setup);
    await first.waitForLog(msg('connected to the broker'));
    await createJob(stack, 'boot-0', thing, { operation: 'record' });
    await first.waitForLog(reported('boot-0'));
    await disk.fill();
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    expect(first.count((l) => typeof l.msg === 'string' && l.msg.startsWith('could not compact the journal on close'))).toBe(1);

    const notify = await NotifySocket.listen(join(stack.dir, 'disk-boot.sock'));
    sockets.push(notify);
    const second = start(setup, { NOTIFY_SOCKET: notify.path });
    await second.waitForLog(unwritable);
    await second.waitForLog(msg('connected to the broker'));
    await createJob(stack, 'boot-1', thing, { operation: 'record' });
    await second.waitForLog(msg('job queued', 'boot-1'));
    await waitFor(() => notify.statuses().some((s) => s.startsWith('storage: ENOSPC')), 'STATUS=storage: ENOSPC …');
    expect(statusOf(stack, 'boot-1', thing)).toBe('QUEUED');
    expect(await status(setup)).toMatch(/boot-0#1\s+SUCCEEDED/);

    await disk.free();
    await second.waitForLog(writableAgain);
    await second.waitForLog(reported('boot-1'), 60_000);
    expect(statusOf(stack, 'boot-1', thing)).toBe('SUCCEEDED');
    expect(runsOf(setup, 'boot-0')).toBe(1);
    expect(runsOf(setup, 'boot-1')).toBe(1);
    // STATUS travels through systemd-notify, a child process: wait for it rather than race it.
    await waitFor(() => notify.statuses().at(-1) === 'idle', 'STATUS=idle, the storage condition cleared');
    second.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });
});
