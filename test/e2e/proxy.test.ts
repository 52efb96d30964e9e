/**
 * The agent behind real proxies (tinyproxy with BasicAuth, dante-server, stunnel4 in front of
 * tinyproxy): jobs over MQTT and over the HTTPS data plane, and a download-file job, all through the
 * proxy. The agent runs in a mount namespace whose /etc/hosts cannot resolve `localhost`, the
 * endpoint's name: only the proxy can, so a direct connection is impossible and any attempt would
 * fail loudly instead of passing unnoticed.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHttpsFileServer, type HttpsFileServer } from '../fixtures/https-server';
import { NotifySocket } from '../support/device-faults';
import { AgentProcess, agentConfig, BIN, waitFor, type LogLine } from '../support/agent-proc';
import { startDante, startStunnel, startTinyproxy, type RealProxy } from '../support/proxies';
import { startStack, type Stack } from '../support/stack';
import { createJob, handlerRuns, statusOf, terminalCount } from './helpers';

const THINGS = ['px-check', 'px-http', 'px-socks', 'px-https', 'px-badpw', 'px-down', 'px-cut', 'px-env', 'px-off', 'px-crt-http', 'px-crt-https'];
let stack: Stack;
let files: HttpsFileServer;
let auth: RealProxy;
let hostsFile: string;
let nsswitchFile: string;
let passwordFile: string;
const procs: AgentProcess[] = [];
const stops: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  stack = await startStack({ things: THINGS });
  files = await startHttpsFileServer(stack.dir, randomBytes(300_000));
  auth = await startTinyproxy(stack.dir, { name: 'auth', basicAuth: { user: 'alice', password: 's3cret' } });
  stops.push(() => files.close(), () => auth.stop());
  passwordFile = join(stack.dir, 'proxy-password');
  await writeFile(passwordFile, 's3cret\n', { mode: 0o600 });
  // Everything but `localhost` (the endpoint's name here), and no DNS to fall back on.
  hostsFile = join(stack.dir, 'hosts-without-localhost');
  await writeFile(hostsFile, '127.0.0.1 this-device\n');
  nsswitchFile = join(stack.dir, 'nsswitch-files-only');
  await writeFile(nsswitchFile, 'hosts: files\n');
});

afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
  for (const s of stops) await s();
  await stack.close();
});

/** argv prefix that runs a command where `localhost` does not resolve. */
function isolated(): string[] {
  const script = `mount --bind ${hostsFile} /etc/hosts && mount --bind ${nsswitchFile} /etc/nsswitch.conf && exec "$0" "$@"`;
  return ['unshare', '-m', 'sh', '-c', script];
}

const finished = (jobId: string) => (l: LogLine) => l.msg === 'outcome reported' && l.jobId === jobId;
const localhost = (url: string): string => url.replace('127.0.0.1', 'localhost');

interface Started {
  agent: AgentProcess;
  handlerLog: string;
  downloads: string;
}

interface StartOptions {
  env?: NodeJS.ProcessEnv;
  direct?: boolean;
  notify?: string;
  namespace?: boolean;
  transport?: string;
}

async function writeConfig(thing: string, proxy: Record<string, unknown> | false | undefined, o: StartOptions): Promise<{ configFile: string; handlerLog: string; downloads: string }> {
  const namespace = o.namespace ?? true;
  const mqtt = { endpoint: o.direct ? '127.0.0.1' : 'localhost', ...(o.transport ? { transport: o.transport } : {}) };
  const setup = await agentConfig(stack, thing, thing, { mqtt, jobs: namespace ? { namespaces: ['dp'] } : {} });
  const downloads = join(stack.dir, `downloads-${thing}`);
  await mkdir(downloads, { recursive: true });
  const config = setup.config as { jobs: Record<string, unknown>; handlers: { options: Record<string, unknown> }; proxy?: unknown };
  config.jobs.dataPlaneEndpoint = o.direct ? stack.sim.endpoints.dataPlane : localhost(stack.sim.endpoints.dataPlane);
  config.handlers.options['download-file'] = { caFile: files.caFile, allowedDirectories: [downloads] };
  if (proxy !== undefined) config.proxy = proxy;
  await writeFile(setup.configFile, JSON.stringify(config, null, 2));
  return { configFile: setup.configFile, handlerLog: setup.handlerLog, downloads };
}

function cli(args: string[], o: StartOptions): AgentProcess {
  const env = { ...o.env, ...(o.notify ? { NOTIFY_SOCKET: o.notify } : {}) };
  const p = new AgentProcess(args, env, o.direct ? undefined : [...isolated(), process.execPath, BIN]);
  procs.push(p);
  return p;
}

async function start(thing: string, proxy: Record<string, unknown> | false | undefined, o: StartOptions = {}): Promise<Started> {
  const { configFile, handlerLog, downloads } = await writeConfig(thing, proxy, o);
  return { agent: cli(['run', '--config', configFile], o), handlerLog, downloads };
}

function connects(p: RealProxy): number {
  return p.log().split('\n').filter((l) => / CONNECT localhost:\d+ /.test(l)).length;
}

it('the agent cannot resolve the endpoint name by itself (so nothing below can have gone direct)', () => {
  const r = spawnSync(isolated()[0] ?? '', [...isolated().slice(1), 'getent', 'hosts', 'localhost'], { encoding: 'utf8' });
  expect(r.status).toBe(2);
  expect(spawnSync('getent', ['hosts', 'localhost']).status).toBe(0);
});

describe.each([
  ['HTTP CONNECT with Basic auth (tinyproxy)', 'px-http'],
  ['SOCKS5 (dante-server)', 'px-socks'],
  ['HTTPS proxy (stunnel4 → tinyproxy)', 'px-https'],
])('through %s', (_title, thing) => {
  it('runs a job on MQTT, one on the data plane and a download, and the proxy saw every CONNECT', async () => {
    let proxy: Record<string, unknown>;
    let saw: () => string;
    if (thing === 'px-http') {
      proxy = { url: auth.url, username: 'alice', passwordFile };
      saw = () => auth.log();
    } else if (thing === 'px-socks') {
      const dante = await startDante(stack.dir);
      stops.push(() => dante.stop());
      proxy = { url: dante.url };
      saw = () => dante.log();
    } else {
      const inner = await startTinyproxy(stack.dir, { name: 'behind-stunnel' });
      const stunnel = await startStunnel(stack.dir, inner);
      stops.push(() => stunnel.stop(), () => inner.stop());
      proxy = { url: stunnel.url, caFile: stunnel.caFile };
      saw = () => inner.log();
    }
    const fw = { operation: 'download-file', url: `${localhost(files.origin)}/firmware/fw.bin?X-Amz-Signature=abc`, path: '', sha256: files.sha256 };
    await createJob(stack, `${thing}-mqtt`, thing, { operation: 'record' });
    await createJob(stack, `${thing}-dp`, thing, { operation: 'record' }, { namespaceId: 'dp' });
    const { agent, handlerLog, downloads } = await start(thing, proxy);
    await createJob(stack, `${thing}-dl`, thing, { ...fw, path: join(downloads, 'fw.bin') });
    for (const j of [`${thing}-mqtt`, `${thing}-dp`, `${thing}-dl`]) await agent.waitForLog(finished(j));
    for (const j of [`${thing}-mqtt`, `${thing}-dp`, `${thing}-dl`]) expect(statusOf(stack, j, thing)).toBe('SUCCEEDED');
    expect(handlerRuns(handlerLog).map((r) => r.jobId).sort()).toEqual([`${thing}-dp`, `${thing}-mqtt`]);
    expect((await readFile(join(downloads, 'fw.bin'))).equals(files.body)).toBe(true);
    const log = saw();
    const ports = [stack.broker.port, new URL(stack.sim.endpoints.dataPlane).port, new URL(files.origin).port].map(Number);
    for (const port of ports) {
      // tinyproxy logs the request line; dante the connection it made for us.
      expect(log).toMatch(thing === 'px-socks' ? new RegExp(`tcp/connect .*127\\.0\\.0\\.1\\.${port}\\b`) : new RegExp(`CONNECT localhost:${port} HTTP/1\\.1`));
    }
    expect(agent.raw.join('\n')).not.toContain('s3cret');
    agent.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  });
});

describe('when the proxy is in the way', () => {
  it('a wrong password: the agent stays up, says so in STATUS and the log, backs off for minutes, runs nothing', async () => {
    const thing = 'px-badpw';
    const proxy = await startTinyproxy(stack.dir, { name: 'badpw', basicAuth: { user: 'alice', password: 's3cret' } });
    stops.push(() => proxy.stop());
    const bad = join(stack.dir, 'bad-password');
    await writeFile(bad, 'not-the-password\n', { mode: 0o600 });
    const notify = await NotifySocket.listen(join(stack.dir, 'badpw.sock'));
    stops.push(() => notify.close());
    await createJob(stack, 'badpw-1', thing, { operation: 'record' });
    const { agent, handlerLog } = await start(thing, { url: proxy.url, username: 'alice', passwordFile: bad }, { notify: notify.path });
    const failed = await agent.waitForLog((l) => l.msg === 'could not connect to the broker' && l.kind === 'proxy-auth');
    expect(failed.err).toMatch(/refused the username\/password \(HTTP 401/);
    expect(Number(failed.retryInMs)).toBeGreaterThanOrEqual(5 * 60_000);
    await waitFor(() => notify.statuses().some((s) => s.startsWith('proxy: ') && s.includes('401')), 'STATUS naming the proxy');
    // The data plane met the same refusal (or the hold it left) and did not hammer the proxy either.
    await agent.waitForLog((l) => l.msg === 'could not fetch pending jobs; will retry' && l.namespace === 'dp');
    expect(proxy.log().split('\n').filter((l) => l.includes('Request')).length).toBeLessThanOrEqual(2);
    expect(agent.child.exitCode).toBeNull();
    expect(handlerRuns(handlerLog)).toEqual([]);
    expect(statusOf(stack, 'badpw-1', thing)).toBe('QUEUED');
    expect(agent.raw.join('\n')).not.toContain('not-the-password');
  });

  it('a proxy that is down, then up: the agent connects and the queued job runs', async () => {
    const thing = 'px-down';
    const proxy = await startTinyproxy(stack.dir, { name: 'down' });
    stops.push(() => proxy.stop());
    await proxy.stop();
    await createJob(stack, 'down-1', thing, { operation: 'record' });
    const { agent, handlerLog } = await start(thing, { url: proxy.url }, { namespace: false });
    const failed = await agent.waitForLog((l) => l.msg === 'could not connect to the broker' && l.kind === 'proxy-unreachable');
    expect(failed.err).toContain(`127.0.0.1:${proxy.port}`);
    await proxy.start();
    await agent.waitForLog(finished('down-1'), 90_000);
    expect(statusOf(stack, 'down-1', thing)).toBe('SUCCEEDED');
    expect(handlerRuns(handlerLog).map((r) => r.jobId)).toEqual(['down-1']);
    expect(connects(proxy)).toBeGreaterThan(0);
  });

  it('the proxy dies mid-job: the agent reconnects through it when it is back, nothing lost, nothing run twice', async () => {
    const thing = 'px-cut';
    const proxy = await startTinyproxy(stack.dir, { name: 'cut' });
    stops.push(() => proxy.stop());
    const { agent, handlerLog } = await start(thing, { url: proxy.url }, { namespace: false });
    await agent.waitForLog((l) => l.msg === 'connected to the broker');
    await createJob(stack, 'cut-1', thing, { operation: 'record', ms: 3000 });
    await waitFor(() => handlerRuns(handlerLog).some((r) => r.jobId === 'cut-1'), 'cut-1 to start');
    await proxy.stop();
    await agent.waitForLog((l) => l.msg === 'disconnected from the broker; reconnecting');
    await proxy.start();
    await agent.waitForLog(finished('cut-1'), 90_000);
    expect(statusOf(stack, 'cut-1', thing)).toBe('SUCCEEDED');
    expect(terminalCount(stack, 'cut-1', 'SUCCEEDED')).toBe(1);
    expect(handlerRuns(handlerLog).filter((r) => r.jobId === 'cut-1')).toHaveLength(1);
    expect(agent.count((l) => l.msg === 'connected to the broker')).toBeGreaterThanOrEqual(2);
  });
});

describe('configuration from the environment', () => {
  it('HTTPS_PROXY with credentials and no proxy key: everything goes through it, the password never shows', async () => {
    const thing = 'px-env';
    const before = connects(auth);
    await createJob(stack, 'env-1', thing, { operation: 'record' });
    await createJob(stack, 'env-2', thing, { operation: 'record' }, { namespaceId: 'dp' });
    const { agent } = await start(thing, undefined, { env: { HTTPS_PROXY: `http://alice:s3cret@127.0.0.1:${auth.port}`, NO_PROXY: 'example.invalid' } });
    const via = await agent.waitForLog((l) => l.msg === 'connections go through a proxy');
    expect(via).toMatchObject({ proxy: `http://alice@127.0.0.1:${auth.port}`, from: 'HTTPS_PROXY', noProxy: ['example.invalid'] });
    await agent.waitForLog(finished('env-1'));
    await agent.waitForLog(finished('env-2'));
    expect(connects(auth)).toBeGreaterThanOrEqual(before + 2);
    expect(agent.raw.join('\n')).not.toContain('s3cret');
  });

  it('"proxy": false ignores HTTPS_PROXY and connects directly', async () => {
    const thing = 'px-off';
    const before = auth.log();
    await createJob(stack, 'off-1', thing, { operation: 'record' });
    const { agent } = await start(thing, false, { direct: true, namespace: false, env: { HTTPS_PROXY: `http://alice:s3cret@127.0.0.1:${auth.port}` } });
    await agent.waitForLog(finished('off-1'));
    expect(agent.count((l) => l.msg === 'connections go through a proxy')).toBe(0);
    expect(auth.log()).toBe(before);
  });
});

describe('the aws-crt transport (its own HTTP proxy support for MQTT)', () => {
  it.each([
    ['an HTTP proxy with Basic auth', 'px-crt-http'],
    ['an HTTPS proxy verified against proxy.caFile', 'px-crt-https'],
  ])('runs jobs through %s', async (_title, thing) => {
    let proxy: Record<string, unknown>;
    let saw: () => string;
    if (thing === 'px-crt-http') {
      proxy = { url: auth.url, username: 'alice', passwordFile };
      saw = () => auth.log();
    } else {
      const inner = await startTinyproxy(stack.dir, { name: 'crt-behind-stunnel' });
      const stunnel = await startStunnel(stack.dir, inner, { name: 'crt-stunnel' });
      stops.push(() => stunnel.stop(), () => inner.stop());
      proxy = { url: stunnel.url, caFile: stunnel.caFile };
      saw = () => inner.log();
    }
    await createJob(stack, `${thing}-1`, thing, { operation: 'record' });
    await createJob(stack, `${thing}-2`, thing, { operation: 'record' }, { namespaceId: 'dp' });
    const { agent } = await start(thing, proxy, { transport: 'aws-crt' });
    await agent.waitForLog(finished(`${thing}-1`));
    await agent.waitForLog(finished(`${thing}-2`));
    expect(saw()).toMatch(new RegExp(`CONNECT localhost:${stack.broker.port} HTTP/1\\.1`));
    expect(agent.raw.join('\n')).not.toContain('s3cret');
  });
});

describe('check-config', () => {
  it('opens one tunnel to the endpoint and says what the proxy answered', async () => {
    const good = await writeConfig('px-check', { url: auth.url, username: 'alice', passwordFile }, {});
    const ok = cli(['check-config', '--config', good.configFile], {});
    expect((await ok.exited).code).toBe(0);
    expect(ok.raw.join('\n')).toContain(`proxy http://alice@127.0.0.1:${auth.port} (from proxy): tunnel to localhost:${stack.broker.port} open (CONNECT answered HTTP 200)`);

    const bad = join(stack.dir, 'check-bad-password');
    await writeFile(bad, 'nope\n', { mode: 0o600 });
    const refused = cli(['check-config', '--config', (await writeConfig('px-check', { url: auth.url, username: 'alice', passwordFile: bad }, {})).configFile], {});
    expect((await refused.exited).code).toBe(2);
    expect(refused.raw.join('\n')).toMatch(/no tunnel to localhost:\d+ \[auth\]: .*HTTP 401/);
    expect(refused.raw.join('\n')).not.toContain('nope');

    const strict = await startTinyproxy(stack.dir, { name: 'check-strict', connectPorts: [443] });
    stops.push(() => strict.stop());
    const port = cli(['check-config', '--config', (await writeConfig('px-check', undefined, {})).configFile], { env: { HTTPS_PROXY: strict.url } });
    expect((await port.exited).code).toBe(2);
    expect(port.raw.join('\n')).toMatch(/\(from HTTPS_PROXY\): no tunnel to localhost:\d+ \[refused\]: .*HTTP 403/);
  });
});
