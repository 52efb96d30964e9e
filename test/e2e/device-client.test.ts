/**
 * Every Device Client and AWS managed-template document in test/fixtures/device-client, run end to
 * end: created with the AWS SDK on the sim, fetched over mosquitto (mTLS) by the real agent process,
 * run by `device-client-steps` and the built-ins against stand-in tools, and checked in the cloud's
 * record (status and statusDetails) and in its effects. (Those decided across an agent restart: device-client-restart.test.ts.)
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { AgentProcess, agentConfig } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { deviceClientEnv, describeOutcome, FIXTURES, RESTART_FIXTURES, useDeviceClientEnv, type DeviceClientEnv, type Outcome } from '../fixtures/device-client-env';
import { createJob, deviceTransitions } from './helpers';

const THING = 'dc-thing';
let stack: Stack;
let env: DeviceClientEnv;
let agent: AgentProcess;

beforeAll(async () => {
  stack = await startStack({ things: [THING] });
  env = await deviceClientEnv(stack, ['curl', 'telnet']);
  const setup = await agentConfig(stack, THING, 'dc');
  await useDeviceClientEnv(setup, env);
  agent = new AgentProcess(['run', '--config', setup.configFile]);
  await agent.waitForLog((l) => l.msg === 'connected to the broker');
}, 60_000);

afterAll(async () => {
  if (agent) {
    agent.kill('SIGKILL');
    await agent.exited;
  }
  await env?.close();
  await stack?.close();
});

/** Creates the job from the fixture and waits for the agent to report its outcome. */
async function runFixture(file: string): Promise<Outcome & { jobId: string }> {
  const jobId = file.replace(/\.json$/, '');
  await createJob(stack, jobId, THING, env.load(file));
  await agent.waitForLog((l) => l.msg === 'outcome reported' && l.jobId === jobId);
  return { jobId, ...(await describeOutcome(stack, jobId, THING)) };
}

const fakeCalls = (name: string): string[] => [...env.tools.calls(), ...env.services.calls()].filter((c) => c.startsWith(`${name} `));

interface Case {
  file: string;
  status: 'SUCCEEDED' | 'FAILED' | 'REJECTED';
  details: Record<string, unknown>;
  /** Checks of the job's effects, after it ended. */
  effects?: (jobId: string) => void;
}

const rejectedBeforeRunning = (jobId: string): void => {
  expect(deviceTransitions(stack, jobId)).toEqual([{ from: 'QUEUED', to: 'REJECTED' }]);
};

const CASES: Case[] = [
  { file: 'aws-run-command.json', status: 'SUCCEEDED', details: { steps: '1' } },
  { file: 'dc-run-command-escapes.json', status: 'SUCCEEDED', details: { steps: '1', stdout: '[one, two, three][four]' } },
  { file: 'dc-script-handler.json', status: 'SUCCEEDED', details: { steps: '1', stdout: 'user=[] me=nobody args=<fleet><a b>' } },
  { file: 'dc-legacy-script.json', status: 'SUCCEEDED', details: { steps: '1', stdout: 'user=[] me=root args=<legacy>' } },
  {
    file: 'dc-script-outside-directories.json',
    status: 'REJECTED',
    details: { reason: 'path /usr/bin is not a configured script directory' },
    effects: rejectedBeforeRunning,
  },
  {
    file: 'dc-handler-dotdot.json',
    status: 'REJECTED',
    details: { reason: 'handler name "../../../usr/bin/id" must be a plain file name' },
    effects: rejectedBeforeRunning,
  },
  { file: 'dc-ignore-step-failure.json', status: 'SUCCEEDED', details: { steps: '2', stdout: 'final step ran' } },
  {
    file: 'dc-final-step-skipped.json',
    status: 'FAILED',
    details: { exitStatus: 'exit 2', stderr: 'broken', step: 'breaks', reason: 'step "breaks" failed: exit 2' },
    effects: () => {
      expect(existsSync(path.join(env.work, 'second-step-ran'))).toBe(false);
      expect(existsSync(path.join(env.work, 'final-step-ran'))).toBe(false);
    },
  },
  {
    file: 'dc-allow-stderr.json',
    status: 'FAILED',
    details: { exitStatus: 'exit 0', stderr: 'warning one warning two', step: 'noisy', reason: 'step "noisy" failed: 2 lines on stderr (allowStdErr 1)' },
  },
  {
    file: 'dc-run-as-missing-user.json',
    status: 'REJECTED',
    details: { reason: 'user no-such-user-4711 does not exist' },
    // Never run as the agent instead; and rejected while still QUEUED (the service refuses IN_PROGRESS → REJECTED).
    effects: rejectedBeforeRunning,
  },
  { file: 'dc-run-as-nobody.json', status: 'SUCCEEDED', details: { steps: '1', stdout: 'nobody' } },
  { file: 'dc-shell-command.json', status: 'SUCCEEDED', details: { steps: '1' } },
  {
    file: 'aws-download-file.json',
    status: 'SUCCEEDED',
    details: { steps: '1' },
    effects: () => {
      expect(readFileSync(path.join(env.work, 'firmware', 'v2.bin')).equals(env.srv.body)).toBe(true);
      // The presigned query string reached the server byte for byte.
      expect(env.srv.requests.at(-1)?.url).toBe(
        '/firmware/v2.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=0123abcd',
      );
    },
  },
  {
    file: 'aws-install-application.json',
    status: 'SUCCEEDED',
    details: { steps: '1' },
    effects: () => {
      expect(fakeCalls('apt-get')).toContain('apt-get 0 install -y -q curl jq');
      expect(env.tools.installed()).toEqual(expect.arrayContaining(['curl', 'jq']));
    },
  },
  {
    file: 'aws-install-application-missing-package.json',
    status: 'FAILED',
    details: {
      exitStatus: 'exit 100',
      stderr: 'E: Unable to locate package broken',
      step: 'Install-Application',
      reason: 'step "Install-Application" failed: apt-get install failed',
    },
  },
  {
    file: 'aws-remove-application.json',
    status: 'SUCCEEDED',
    details: { steps: '1' },
    effects: () => expect(env.tools.installed()).not.toContain('telnet'),
  },
  {
    file: 'dc-legacy-install-packages.json',
    status: 'SUCCEEDED',
    details: { steps: '1' },
    effects: () => expect(env.tools.installed()).toEqual(expect.arrayContaining(['lftp', 'dos2unix'])),
  },
  {
    file: 'dc-command-steps.json',
    status: 'SUCCEEDED',
    details: { steps: '3' },
    // dash's echo turns the format's \t and \n into real ones, so the fake's log line for dpkg-query ends on the next line.
    effects: () => expect(env.tools.calls().slice(-2)).toEqual(['dpkg-query 0 -W -f=${Status}\t${Version}', ' curl']),
  },
  {
    file: 'dc-install-download-remove.json',
    status: 'SUCCEEDED',
    details: { steps: '3' },
    effects: () => {
      const apt = fakeCalls('apt-get');
      expect(apt.slice(-2)).toEqual(['apt-get 0 install -y -q wget', 'apt-get 0 remove -y -q wget']);
      expect(env.tools.installed()).not.toContain('wget');
      expect(readFileSync(path.join(env.work, 'Downloaded_File.tar.gz')).equals(env.srv.body)).toBe(true);
      expect(env.srv.requests.at(-1)?.url).toBe('/awslabs/aws-iot-device-client/archive/refs/tags/v1.3.tar.gz');
    },
  },
  { file: 'aws-start-application.json', status: 'SUCCEEDED', details: { steps: '1' }, effects: () => expect(fakeCalls('systemctl').at(-1)).toBe('systemctl 0 start nginx') },
  { file: 'aws-stop-application.json', status: 'SUCCEEDED', details: { steps: '1' }, effects: () => expect(fakeCalls('systemctl').at(-1)).toBe('systemctl 0 stop nginx') },
  {
    file: 'aws-restart-application.json',
    status: 'SUCCEEDED',
    details: { steps: '1' },
    effects: () => expect(fakeCalls('systemctl').slice(-2)).toEqual(['systemctl 0 restart nginx', 'systemctl 0 restart cron']),
  },
  { file: 'dc-legacy-shutdown.json', status: 'SUCCEEDED', details: { steps: '1' }, effects: () => expect(fakeCalls('shutdown')).toEqual(['shutdown 0 -h +1']) },
];

describe('Device Client and managed-template documents through the agent and the sim', () => {
  it('covers every fixture document', () => {
    const covered = new Set([...CASES.map((c) => c.file), ...RESTART_FIXTURES]);
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
    expect(files.filter((f) => !covered.has(f))).toEqual([]);
  });

  it.each(CASES.map((c) => [c.file, c] as const))('%s', async (_file, c) => {
    const r = await runFixture(c.file);
    expect({ status: r.status, details: r.details }).toEqual({ status: c.status, details: c.details });
    // Anything that got past validation was reported IN_PROGRESS before its outcome.
    if (c.effects !== rejectedBeforeRunning) expect(deviceTransitions(stack, r.jobId)[0]).toEqual({ from: 'QUEUED', to: 'IN_PROGRESS' });
    c.effects?.(r.jobId);
  });

  it('kept running through all of them', () => {
    expect(agent.child.exitCode).toBeNull();
    expect(agent.count((l) => l.msg === 'handler not loaded')).toBe(0);
  });
});
