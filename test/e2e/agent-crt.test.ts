/**
 * The agent as a real process with mqtt.transport "aws-crt" and its private key generated inside
 * a SoftHSM token (PKCS#11): it connects to mosquitto over mTLS, runs a job end to end against the
 * sim, and exits 0 on SIGTERM, with MQTT 3.1.1 and with MQTT 5. A wrong PIN stops it at start-up (exit 2), tried once.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentProcess, agentConfig } from '../support/agent-proc';
import { createSoftHsmToken, type SoftHsmToken } from '../support/softhsm';
import { startStack } from '../support/stack';
import type { Stack } from '../support/stack';
import { createJob, handlerRuns, statusOf, terminalCount } from './helpers';

const THINGS = { 4: 'crt-thing-311', 5: 'crt-thing-5' } as const;
const PIN_ENV = 'HSM_TEST_PIN';

let stack: Stack;
const tokens: Partial<Record<4 | 5, SoftHsmToken>> = {};
const procs: AgentProcess[] = [];

beforeAll(async () => {
  stack = await startStack({ things: [THINGS[4], THINGS[5], 'crt-bad-pin'] });
  for (const v of [4, 5] as const) {
    tokens[v] = await createSoftHsmToken(join(stack.dir, 'hsm'), stack.pki.ca, THINGS[v], { tokenLabel: `token-${v}`, pin: `24680${v}` });
  }
});
afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  await stack.close();
});

/** A config whose key is in the token: no tls.privateKeyFile, a pkcs11 section, the PIN in a file or the environment. */
async function tokenConfig(version: 4 | 5, thing: string, name: string, pinFrom: 'file' | 'env'): Promise<{ file: string; handlerLog: string; token: SoftHsmToken }> {
  const token = tokens[version]!;
  const setup = await agentConfig(stack, thing, name, { mqtt: { transport: 'aws-crt', protocolVersion: version } });
  const pinFile = join(stack.dir, `agent-${name}`, 'pin');
  await writeFile(pinFile, `${token.pin}\n`, { mode: 0o600 });
  const config = setup.config as { tls: Record<string, unknown> } & Record<string, unknown>;
  const { privateKeyFile: _dropped, ...tls } = config.tls;
  const pkcs11 = { library: token.library, tokenLabel: token.tokenLabel, keyLabel: token.keyLabel, ...(pinFrom === 'file' ? { pinFile } : { pinEnv: PIN_ENV }) };
  await writeFile(setup.configFile, JSON.stringify({ ...config, tls: { ...tls, certificateFile: token.certificateFile }, pkcs11 }, null, 2));
  return { file: setup.configFile, handlerLog: setup.handlerLog, token };
}

function start(configFile: string, env: NodeJS.ProcessEnv): AgentProcess {
  const p = new AgentProcess(['run', '--config', configFile], env);
  procs.push(p);
  return p;
}

const finished = (jobId: string) => (l: Record<string, unknown>) => l.msg === 'outcome reported' && l.jobId === jobId;

describe.each([4, 5] as const)('agent with the aws-crt transport and a PKCS#11 key, MQTT %s', (version) => {
  it('runs a job end to end, then exits 0 on SIGTERM', async () => {
    const thing = THINGS[version];
    const pinFrom = version === 4 ? 'file' : 'env';
    const { file, handlerLog, token } = await tokenConfig(version, thing, `crt-${version}`, pinFrom);
    const agent = start(file, { ...token.env, ...(pinFrom === 'env' ? { [PIN_ENV]: token.pin } : {}) });
    await agent.waitForLog((l) => l.msg === 'connected to the broker');
    // The native aws-crt module is what carries the connection (not mqtt.js with a key file).
    const maps = await readFile(`/proc/${agent.child.pid}/maps`, 'utf8');
    expect(maps).toMatch(/aws-crt.*\.node/);
    expect(maps).toMatch(/libsofthsm2\.so/);
    await createJob(stack, `crt-job-${version}`, thing, { operation: 'record' });
    await agent.waitForLog(finished(`crt-job-${version}`));
    expect(statusOf(stack, `crt-job-${version}`, thing)).toBe('SUCCEEDED');
    expect(terminalCount(stack, `crt-job-${version}`, 'SUCCEEDED')).toBe(1);
    expect(handlerRuns(handlerLog).map((r) => r.jobId)).toEqual([`crt-job-${version}`]);
    agent.kill('SIGTERM');
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    // No secret in the logs.
    expect(agent.raw.join('\n')).not.toContain(token.pin);
  });
});

it('a wrong PIN stops the agent at start-up with a clear configuration error (exit 2), tried once, never logged', async () => {
  const { file, token } = await tokenConfig(4, 'crt-bad-pin', 'crt-bad-pin', 'env');
  const agent = start(file, { ...token.env, [PIN_ENV]: '999999' });
  // The start-up check logs into the token once; systemd does not restart on exit 2 (RestartPreventExitStatus=2).
  expect(await agent.exited).toEqual({ code: 2, signal: null });
  const out = agent.raw.join('\n');
  expect(out).toMatch(/pkcs11: .*PKCS#11 PIN is wrong.*CKR_PIN_INCORRECT/);
  expect(agent.raw.filter((l) => l.includes('PKCS#11 PIN is wrong'))).toHaveLength(1);
  expect(out).not.toContain('999999');
});
