/**
 * Every AWS managed template end to end, the way a fleet uses them: the job is created with
 * `@aws-sdk/client-iot` from the template's ARN and `documentParameters`, the sim builds the
 * document, the real agent process fetches it over mosquitto (mTLS) and runs it through its Device
 * Client support against the stand-in apt/systemctl/reboot tools; status, statusDetails and
 * effects are checked. Where a fixture in test/fixtures/device-client holds the resolved form, the
 * sim's document must equal it. AWS-Reboot is decided by the restarted agent.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { CreateJobCommand } from '@aws-sdk/client-iot';
import { AgentProcess, agentConfig, waitFor } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { deviceClientEnv, describeOutcome, useDeviceClientEnv, type DeviceClientEnv } from '../fixtures/device-client-env';
import { deviceTransitions, statusOf } from './helpers';

const THING = 'mt-thing';
const REBOOTER = 'mt-rebooter';
let stack: Stack;
let env: DeviceClientEnv;
const procs: AgentProcess[] = [];
let agent: AgentProcess;

function start(configFile: string): AgentProcess {
  const p = new AgentProcess(['run', '--config', configFile]);
  procs.push(p);
  return p;
}

beforeAll(async () => {
  stack = await startStack({ things: [THING, REBOOTER] });
  env = await deviceClientEnv(stack, ['telnet']);
  const setup = await agentConfig(stack, THING, 'mt');
  await useDeviceClientEnv(setup, env);
  agent = start(setup.configFile);
  await agent.waitForLog((l) => l.msg === 'connected to the broker');
}, 60_000);

afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await env?.close();
  await stack?.close();
});

const managedArn = (name: string): string => `arn:aws:iot:us-east-1::jobtemplate/${name}:1.0`;

function createFromTemplate(jobId: string, thing: string, template: string, documentParameters: Record<string, string>): Promise<unknown> {
  return stack.iot.send(
    new CreateJobCommand({ jobId, targets: [`arn:aws:iot:us-east-1:123456789012:thing/${thing}`], jobTemplateArn: managedArn(template), documentParameters }),
  );
}

/** The document as the device receives it (the sim's data-plane DescribeJobExecution). */
function deliveredDocument(jobId: string, thing: string): unknown {
  const r = stack.sim.runtime.service.httpDescribe(thing, jobId, { includeJobDocument: true });
  if (!r.ok) throw new Error(r.error.message);
  return JSON.parse(String(r.value.execution?.jobDocument));
}

/** A fixture in resolved form, without its explanatory comment. */
function fixture(name: string): Record<string, unknown> {
  const { _comment: _c, ...doc } = env.load(name);
  return doc;
}

const calls = (name: string): string[] => [...env.tools.calls(), ...env.services.calls()].filter((c) => c.startsWith(`${name} `));

interface Case {
  jobId: string;
  template: string;
  params: () => Record<string, string>;
  /** The fixture whose resolved form the sim must produce. */
  fixture?: string;
  status: 'SUCCEEDED' | 'FAILED' | 'REJECTED';
  details: Record<string, string> | (() => Record<string, string>);
  effects?: () => void;
}

const firstArgs = (file: string): string[] => {
  const steps = fixture(file).steps as { action: { input: { args: string[] } } }[];
  return steps[0]?.action.input.args ?? [];
};

const CASES: Case[] = [
  {
    jobId: 'mt-download',
    template: 'AWS-Download-File',
    params: () => {
      const [downloadUrl = '', filePath = ''] = firstArgs('aws-download-file.json');
      return { downloadUrl, filePath };
    },
    fixture: 'aws-download-file.json',
    status: 'SUCCEEDED',
    details: { steps: '1' },
    effects: () => expect(readFileSync(path.join(env.work, 'firmware', 'v2.bin')).equals(env.srv.body)).toBe(true),
  },
  {
    jobId: 'mt-install',
    template: 'AWS-Install-Application',
    params: () => ({ packages: 'curl jq' }),
    fixture: 'aws-install-application.json',
    status: 'SUCCEEDED',
    details: { steps: '1' },
    effects: () => {
      expect(calls('apt-get')).toContain('apt-get 0 install -y -q curl jq');
      expect(env.tools.installed()).toEqual(expect.arrayContaining(['curl', 'jq']));
    },
  },
  {
    jobId: 'mt-install-missing',
    template: 'AWS-Install-Application',
    params: () => ({ packages: 'broken' }),
    status: 'FAILED',
    details: {
      exitStatus: 'exit 100',
      stderr: 'E: Unable to locate package broken',
      step: 'Install-Application',
      reason: 'step "Install-Application" failed: apt-get install failed',
    },
  },
  {
    jobId: 'mt-remove',
    template: 'AWS-Remove-Application',
    params: () => ({ packages: 'telnet' }),
    fixture: 'aws-remove-application.json',
    status: 'SUCCEEDED',
    details: { steps: '1' },
    effects: () => expect(env.tools.installed()).not.toContain('telnet'),
  },
  {
    jobId: 'mt-start',
    template: 'AWS-Start-Application',
    params: () => ({ services: 'nginx' }),
    fixture: 'aws-start-application.json',
    status: 'SUCCEEDED',
    details: { steps: '1' },
    effects: () => expect(calls('systemctl').at(-1)).toBe('systemctl 0 start nginx'),
  },
  {
    jobId: 'mt-stop',
    template: 'AWS-Stop-Application',
    params: () => ({ services: 'nginx' }),
    fixture: 'aws-stop-application.json',
    status: 'SUCCEEDED',
    details: { steps: '1' },
    effects: () => expect(calls('systemctl').at(-1)).toBe('systemctl 0 stop nginx'),
  },
  {
    jobId: 'mt-restart',
    template: 'AWS-Restart-Application',
    params: () => ({ services: 'nginx cron', runAsUser: 'root' }),
    fixture: 'aws-restart-application.json',
    status: 'SUCCEEDED',
    details: { steps: '1' },
    effects: () => expect(calls('systemctl').slice(-2)).toEqual(['systemctl 0 restart nginx', 'systemctl 0 restart cron']),
  },
  {
    jobId: 'mt-run-command',
    template: 'AWS-Run-Command',
    params: () => ({ command: 'echo,Hello\\, I am the agent.' }),
    fixture: 'aws-run-command.json',
    status: 'SUCCEEDED',
    details: { steps: '1' },
  },
  {
    jobId: 'mt-run-command-effect',
    template: 'AWS-Run-Command',
    params: () => ({ command: `touch,${path.join(env.work, 'run-command-ran')}` }),
    status: 'SUCCEEDED',
    details: { steps: '1' },
    effects: () => expect(existsSync(path.join(env.work, 'run-command-ran'))).toBe(true),
  },
  {
    // runAsUser reaches the device: nobody may not write in the work directory.
    jobId: 'mt-run-command-as-nobody',
    template: 'AWS-Run-Command',
    params: () => ({ command: `touch,${path.join(env.work, 'nobody-ran')}`, runAsUser: 'nobody' }),
    status: 'FAILED',
    details: () => ({
      exitStatus: 'exit 1',
      reason: 'step "Run-Command" failed: exit 1',
      stderr: `touch: cannot touch '${path.join(env.work, 'nobody-ran')}': Permission denied`,
      step: 'Run-Command',
    }),
    effects: () => expect(existsSync(path.join(env.work, 'nobody-ran'))).toBe(false),
  },
  {
    jobId: 'mt-run-as-missing-user',
    template: 'AWS-Run-Command',
    params: () => ({ command: 'true', runAsUser: 'no-such-user-4711' }),
    status: 'REJECTED',
    details: { reason: 'user no-such-user-4711 does not exist' },
    effects: () => expect(deviceTransitions(stack, 'mt-run-as-missing-user')).toEqual([{ from: 'QUEUED', to: 'REJECTED' }]),
  },
];

describe('AWS managed templates through the sim and the agent', () => {
  it.each(CASES.map((c) => [c.jobId, c] as const))('%s', async (_id, c) => {
    await createFromTemplate(c.jobId, THING, c.template, c.params());
    if (c.fixture !== undefined) expect(deliveredDocument(c.jobId, THING)).toEqual(fixture(c.fixture));
    await agent.waitForLog((l) => l.msg === 'outcome reported' && l.jobId === c.jobId);
    const details = typeof c.details === 'function' ? c.details() : c.details;
    expect(await describeOutcome(stack, c.jobId, THING)).toEqual({ status: c.status, details });
    if (c.status !== 'REJECTED') expect(deviceTransitions(stack, c.jobId)[0]).toEqual({ from: 'QUEUED', to: 'IN_PROGRESS' });
    c.effects?.();
  });

  it('AWS-Reboot: requested once, SUCCEEDED by the agent that starts after the boot id changed', async () => {
    writeFileSync(env.bootIdFile, 'boot-1\n');
    const setup = await agentConfig(stack, REBOOTER, REBOOTER);
    await useDeviceClientEnv(setup, env);
    const first = start(setup.configFile);
    await first.waitForLog((l) => l.msg === 'connected to the broker');
    const before = calls('reboot').length;
    await createFromTemplate('mt-reboot', REBOOTER, 'AWS-Reboot', {});
    expect(deliveredDocument('mt-reboot', REBOOTER)).toEqual(fixture('aws-reboot.json'));
    await waitFor(() => calls('reboot').length > before, 'the reboot stand-in to be called');
    expect(statusOf(stack, 'mt-reboot', REBOOTER)).toBe('IN_PROGRESS');
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    writeFileSync(env.bootIdFile, 'boot-2\n'); // the device came back from a real reboot
    const again = start(setup.configFile);
    await again.waitForLog((l) => l.msg === 'outcome reported' && l.jobId === 'mt-reboot');
    expect(await describeOutcome(stack, 'mt-reboot', REBOOTER)).toEqual({ status: 'SUCCEEDED', details: { steps: '1' } });
    expect(calls('reboot').slice(before)).toEqual(['reboot 0 --now']);
  });

  it('ran every managed template the service lists', () => {
    const listed = stack.sim.runtime.service.listManagedJobTemplates({});
    const names = listed.ok ? listed.value.managedJobTemplates.map((t) => (t as { templateName: string }).templateName) : [];
    expect(new Set([...CASES.map((c) => c.template), 'AWS-Reboot'])).toEqual(new Set(names));
    expect(agent.child.exitCode).toBeNull();
  });
});
