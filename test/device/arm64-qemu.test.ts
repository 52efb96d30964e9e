/**
 * The linux-arm64 standalone executable from the release tarball, run on this x86-64 machine under
 * qemu-aarch64-static (user-mode emulation, the arm64 libc from Debian's libc6:arm64), against
 * mosquitto and the sim on the host: it connects, runs a built-in and a configured handler, reports.
 * Emulation makes start-up take seconds: every wait is on an event, with generous limits.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createJob, statusOf } from '../e2e/helpers';
import { AgentProcess, agentConfig, waitFor } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { VERSION, releaseFile } from './support/device';

const run = promisify(execFile);
const THING = 'device-arm64';
const QEMU = '/usr/bin/qemu-aarch64-static';
let stack: Stack;
let dir: string;
let agent: AgentProcess | undefined;

jest.setTimeout(300_000);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ija-arm64-'));
  await run('tar', ['-xzf', releaseFile(`iot-jobs-agent-${VERSION}-linux-arm64.tar.gz`), '-C', dir]);
  stack = await startStack({ things: [THING] });
});
afterAll(async () => {
  if (agent) {
    agent.kill('SIGKILL');
    await agent.exited;
  }
  await stack?.close();
  await rm(dir, { recursive: true, force: true });
});

// Which architecture the handler's code ran on: from inside the agent's own runtime.
const ARCH_HANDLER = `'use strict';
module.exports = { name: 'arch', async run() { return { status: 'SUCCEEDED', details: { arch: process.arch } }; } };
`;

describe('the arm64 executable under qemu-aarch64-static', () => {
  it('is an arm64 ELF that runs a job against the sim', async () => {
    const exe = join(dir, `iot-jobs-agent-${VERSION}-linux-arm64`, 'bin', 'iot-jobs-agent');
    expect(existsSync(exe)).toBe(true);
    // ELF header: magic, 64-bit, little endian, e_machine 183 (EM_AARCH64).
    const fd = await open(exe, 'r');
    const head = Buffer.alloc(20);
    await fd.read(head, 0, 20, 0);
    await fd.close();
    expect([head.subarray(0, 4).toString('latin1'), head[4], head[5], head.readUInt16LE(18)]).toEqual(['\x7fELF', 2, 1, 183]);

    const setup = await agentConfig(stack, THING, 'arm64', { jobs: { requestTimeoutSeconds: 20 } });
    await writeFile(join(setup.configFile, '..', 'handlers', 'arch.js'), ARCH_HANDLER, { mode: 0o644 });
    agent = new AgentProcess(['run', '--config', setup.configFile], {}, [QEMU, exe]);
    await agent.waitForLog((l) => l.msg === 'connected to the broker', 180_000);

    await createJob(stack, 'arm-exec', THING, { operation: 'exec', command: ['true'] });
    await createJob(stack, 'arm-arch', THING, { operation: 'arch' });
    await agent.waitForLog((l) => l.msg === 'outcome reported' && l.jobId === 'arm-arch', 180_000);
    await waitFor(() => statusOf(stack, 'arm-arch', THING) === 'SUCCEEDED', 'arm-arch SUCCEEDED', 60_000);
    expect(statusOf(stack, 'arm-exec', THING)).toBe('SUCCEEDED');
    const e = stack.sim.runtime.service.describeJobExecutionControl('arm-arch', THING);
    expect(e.ok && (e.value.execution.statusDetails as { detailsMap: Record<string, string> }).detailsMap.arch).toBe('arm64');

    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    agent = undefined;
  });
});
