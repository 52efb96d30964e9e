/**
 * Security cases through the real agent process, the sim and mosquitto (mTLS): a certificate from
 * another CA, a device claiming another thing's name, job documents trying to escape the handler
 * directory or run as a missing user, a world-writable handler, a loose private key, and no secret
 * in any line the agent or the CLI writes.
 */
import { spawnSync } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentProcess, agentConfig, BIN } from '../support/agent-proc';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { createJob, deviceTransitions, handlerRuns, statusOf } from './helpers';

let stack: Stack;
const procs: AgentProcess[] = [];
/** Everything the agent and the CLI wrote in this file, scanned for secrets at the end. */
const cliOutput: string[] = [];
const PIN = '73914628';

beforeAll(async () => {
  stack = await startStack({ things: ['sec-thing', 'victim-thing', 'ca-thing'] });
});
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await stack.close();
});

function start(configFile: string, env: NodeJS.ProcessEnv = {}): AgentProcess {
  const p = new AgentProcess(['run', '--config', configFile], env);
  procs.push(p);
  return p;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 20_000, env: { PATH: process.env.PATH, ...env } });
  const out = `${r.stdout}${r.stderr}`;
  cliOutput.push(out);
  return { code: r.status, out };
}

async function rewrite(file: string, edit: (c: Record<string, any>) => void): Promise<void> {
  const c = JSON.parse(await readFile(file, 'utf8')) as Record<string, any>;
  edit(c);
  await writeFile(file, JSON.stringify(c, null, 2));
}

const reported = (jobId: string) => (l: Record<string, unknown>) => l.msg === 'outcome reported' && l.jobId === jobId;
const reason = (jobId: string): string => {
  const r = stack.sim.runtime.service.describeJobExecutionControl(jobId, 'sec-thing');
  return r.ok ? JSON.stringify(r.value.execution) : '';
};

describe('security', () => {
  it('a client certificate from another CA is refused: the agent never gets a job', async () => {
    const setup = await agentConfig(stack, 'ca-thing', 'other-ca');
    await rewrite(setup.configFile, (c) => {
      c.tls.certificateFile = stack.pki.otherCa.client.certificateFile;
      c.tls.privateKeyFile = stack.pki.otherCa.client.privateKeyFile;
    });
    await createJob(stack, 'ca-1', 'ca-thing', { operation: 'record' });
    const agent = start(setup.configFile);
    const refused = await agent.waitForLog((l) => l.msg === 'could not connect to the broker');
    expect(JSON.stringify(refused)).toMatch(/certificate|handshake|tls|ECONNRESET|socket/i);
    expect(statusOf(stack, 'ca-1', 'ca-thing')).toBe('QUEUED');
    expect(handlerRuns(setup.handlerLog)).toEqual([]);
    agent.kill('SIGTERM');
    await agent.exited;
  });

  it("a device cannot see or run another thing's jobs, over MQTT or the HTTPS data plane", async () => {
    const setup = await agentConfig(stack, 'sec-thing', 'impostor', { jobs: { namespaces: ['vault'] } });
    await rewrite(setup.configFile, (c) => {
      c.thingName = 'victim-thing'; // with sec-thing's certificate
      c.mqtt.clientId = 'sec-thing';
    });
    await createJob(stack, 'victim-1', 'victim-thing', { operation: 'record' });
    await createJob(stack, 'victim-2', 'victim-thing', { operation: 'record' }, { namespaceId: 'vault' });
    const agent = start(setup.configFile);
    // The HTTPS data plane refuses the thing name the certificate does not belong to.
    await agent.waitForLog((l) => l.msg === 'could not fetch pending jobs; will retry', 20_000);
    await createJob(stack, 'victim-3', 'victim-thing', { operation: 'record' });
    await agent.waitForLog((l) => l.msg === 'could not fetch pending jobs; will retry' && /victim|denied|Forbidden|Unauthorized|not authorized|timed out/i.test(JSON.stringify(l)), 20_000);
    for (const j of ['victim-1', 'victim-2', 'victim-3']) expect(statusOf(stack, j, 'victim-thing')).toBe('QUEUED');
    expect(handlerRuns(setup.handlerLog)).toEqual([]);
    agent.kill('SIGTERM');
    await agent.exited;
  });

  describe('job documents and handlers on one agent', () => {
    let agent: AgentProcess;
    let handlerLog: string;
    beforeAll(async () => {
      const setup = await agentConfig(stack, 'sec-thing', 'docs');
      handlerLog = setup.handlerLog;
      const dir = (setup.config.handlers as { directories: string[] }).directories[0]!;
      const loose = join(dir, 'loose.js');
      await writeFile(loose, `module.exports = { name: 'loose', async run() { require('node:fs').writeFileSync(${JSON.stringify(join(dir, '..', 'loose-ran'))}, 'x'); return { status: 'SUCCEEDED' }; } };\n`);
      await chmod(loose, 0o666);
      agent = start(setup.configFile);
      await agent.waitForLog((l) => l.msg === 'connected to the broker');
    });
    // The later tests connect as the same thing (same client id): this one must be gone by then.
    afterAll(async () => {
      agent.kill('SIGTERM');
      await agent.exited;
    });

    it.each([
      ['dotdot', { version: '1.0', steps: [{ action: { name: 'x', type: 'runHandler', input: { handler: '../record.js', path: '' } } }] }],
      ['slash', { version: '1.0', steps: [{ action: { name: 'x', type: 'runHandler', input: { handler: '/bin/sh', args: ['-c', 'id'] } } }] }],
      ['nul', { version: '1.0', steps: [{ action: { name: 'x', type: 'runHandler', input: { handler: 'a\u0000b.sh' } } }] }],
      ['legacy-dotdot', { operation: '../../bin/sh.sh', args: ['-c', 'id'] }],
      ['missing-user', { version: '1.0', steps: [{ action: { name: 'x', type: 'runCommand', input: { command: '/usr/bin/id' }, runAsUser: 'no-such-user-4711' } }] }],
      ['world-writable', { operation: 'loose' }],
    ])('%s: REJECTED with a reason, nothing run', async (name, doc) => {
      const jobId = `sec-${name}`;
      await createJob(stack, jobId, 'sec-thing', doc);
      await agent.waitForLog(reported(jobId));
      expect(statusOf(stack, jobId, 'sec-thing')).toBe('REJECTED');
      expect(deviceTransitions(stack, jobId)).toEqual([{ from: 'QUEUED', to: 'REJECTED' }]);
      expect(reason(jobId)).toMatch(/reason/);
      expect(handlerRuns(handlerLog)).toEqual([]);
    });

    it('the world-writable handler file was refused at load and never ran', async () => {
      const text = agent.raw.join('\n');
      expect(text).toMatch(/loose\.js[^\n]*writable by group or others/);
      expect(spawnSync('test', ['-e', join(handlerLog, '..', 'loose-ran')]).status).not.toBe(0);
    });
  });

  it('check-config reports a private key readable by others and exits 2', async () => {
    const setup = await agentConfig(stack, 'sec-thing', 'loose-key');
    const key = join(stack.dir, 'loose.key');
    await writeFile(key, await readFile(stack.pki.things['sec-thing']!.privateKeyFile));
    await chmod(key, 0o644);
    await rewrite(setup.configFile, (c) => {
      c.tls.privateKeyFile = key;
    });
    const r = cli(['check-config', '--config', setup.configFile]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/tls\.privateKeyFile/);
    expect(r.out).toMatch(/readable|permission|mode/i);
  });

  it('PKCS#11 PINs from a file or the environment never appear in output', async () => {
    const setup = await agentConfig(stack, 'sec-thing', 'pin');
    const pinFile = join(stack.dir, 'pin.txt');
    await writeFile(pinFile, `${PIN}\n`, { mode: 0o600 });
    for (const pin of [{ pinFile }, { pinEnv: 'SEC_TEST_PIN' }]) {
      await rewrite(setup.configFile, (c) => {
        c.mqtt.transport = 'aws-crt';
        delete c.tls.privateKeyFile;
        c.pkcs11 = { library: join(stack.dir, 'no-such-pkcs11.so'), tokenLabel: 'tok', keyLabel: 'key', ...pin };
      });
      const env = { SEC_TEST_PIN: PIN };
      cli(['check-config', '--config', setup.configFile], env);
      const agent = start(setup.configFile, env);
      const { code } = await agent.exited;
      expect(code).not.toBe(0);
    }
  });

  it('runs a job with debug logging; no log line or CLI output holds the key, a PIN or a PEM private key', async () => {
    const setup = await agentConfig(stack, 'sec-thing', 'scan');
    const agent = start(setup.configFile);
    await createJob(stack, 'sec-scan', 'sec-thing', { operation: 'record', progress: true, ms: 1200 });
    await agent.waitForLog(reported('sec-scan'));
    cli(['status', '--config', setup.configFile]);
    cli(['check-config', '--config', setup.configFile]);
    agent.kill('SIGTERM');
    await agent.exited;
    const keys = await Promise.all(['sec-thing', 'victim-thing', 'ca-thing'].map((t) => readFile(stack.pki.things[t]!.privateKeyFile, 'utf8')));
    keys.push(await readFile(stack.pki.otherCa.client.privateKeyFile, 'utf8'));
    // Any 40-character run of a key's base64 body is enough to call it leaked.
    const fragments = keys.flatMap((k) => k.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----')).map((l) => l.slice(0, 40)));
    expect(fragments.length).toBeGreaterThan(4);
    const lines = [...procs.flatMap((p) => p.raw), ...cliOutput.flatMap((o) => o.split('\n'))];
    expect(lines.length).toBeGreaterThan(50);
    const leaks = lines.filter((l) => /BEGIN [A-Z ]*PRIVATE KEY/.test(l) || l.includes(PIN) || fragments.some((f) => l.includes(f)));
    expect(leaks).toEqual([]);
  });
});
