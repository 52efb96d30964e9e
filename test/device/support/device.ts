/**
 * A device for scenario tests: a booted container (container.ts) with our package installed from
 * release/, configured against the test stack on the host (mosquitto over mTLS + the sim), and the
 * questions a scenario asks — what systemd reports about the unit, what the agent logged, what the
 * service saw. A new scenario boots a Device (or reuses one), drives it, asserts on these.
 */
import { existsSync, readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Container } from './container';
import type { BootOptions, ExecResult } from './container';
import type { JobsServiceHandle } from '../../../src/sim/start';
import type { Stack } from '../../support/stack';

const execFileP = promisify(execFile);

export const UNIT = 'iot-jobs-agent.service';
export const CONFIG = '/etc/iot-jobs-agent/agent.json';
export const STATE_DIR = '/var/lib/iot-jobs-agent';
/** What the scenarios read from systemd. */
export const PROPS = ['ActiveState', 'SubState', 'StatusText', 'NRestarts', 'Result', 'ExecMainStatus', 'ExecMainCode', 'MainPID', 'InvocationID', 'LoadState', 'UnitFileState'];
/** A directory a job can wait on (a file the test creates opens the gate): on the container's root, which the host sees. */
export const GATES = '/var/lib/ija-test-gates';

const REPO = join(__dirname, '..', '..', '..');
export const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

/** An artifact of `npm run package`; a clear error when it has not been built. */
export function releaseFile(name: string): string {
  const file = join(REPO, 'release', name);
  if (!existsSync(file)) throw new Error(`${file} is missing: the device tests test the release artifacts; run \`npm run package\` first`);
  return file;
}

export const debName = (arch: 'amd64' | 'arm64', version = VERSION): string => `iot-jobs-agent_${version}_${arch}.deb`;

export interface ConfigOverrides {
  jobs?: Record<string, unknown>;
  mqtt?: Record<string, unknown>;
  handlers?: Record<string, unknown>;
  log?: Record<string, unknown>;
}

/** The agent's config for `thing` as the device has it: files under /etc/iot-jobs-agent, state in the default place. */
export function deviceConfig(stack: Stack, thing: string, o: ConfigOverrides = {}): Record<string, unknown> {
  return {
    thingName: thing,
    mqtt: { endpoint: '127.0.0.1', port: stack.broker.port, keepAliveSeconds: 30, ...o.mqtt },
    tls: {
      certificateFile: '/etc/iot-jobs-agent/certs/device.pem.crt',
      privateKeyFile: '/etc/iot-jobs-agent/certs/private.pem.key',
      rootCaFile: '/etc/iot-jobs-agent/certs/root-ca.pem',
    },
    jobs: { dataPlaneEndpoint: stack.sim.endpoints.dataPlane, requestTimeoutSeconds: 5, progressIntervalSeconds: 1, drainGraceSeconds: 20, ...o.jobs },
    handlers: { directories: [], ...o.handlers },
    stateDirectory: STATE_DIR,
    log: { level: 'debug', ...o.log },
  };
}

/** What a device talks to: the test stack (mosquitto + the sim, with a test PKI), or the sim alone on its embedded broker. */
export type Service = Stack | { sim: JobsServiceHandle };

export class Device {
  private constructor(
    readonly c: Container,
    readonly stack: Service,
    readonly thing: string,
  ) {}

  static async boot(stack: Service, thing: string, o: BootOptions = {}): Promise<Device> {
    const d = new Device(await Container.boot(o), stack, thing);
    await mkdir(d.c.path(GATES), { recursive: true, mode: 0o755 });
    return d;
  }

  exec(argv: string[], o?: Parameters<Container['exec']>[1]): Promise<ExecResult> {
    return this.c.exec(argv, o);
  }

  /** `dpkg -i` of a host .deb inside the booted container, as an operator would. */
  async install(debFile: string): Promise<ExecResult> {
    const inside = `/var/cache/ija-test/${basename(debFile)}`;
    await mkdir(dirname(this.c.path(inside)), { recursive: true });
    await copyFile(debFile, this.c.path(inside));
    return this.c.exec(['dpkg', '-i', inside], { timeoutMs: 300_000 });
  }

  /** Certificates and agent.json in place, with the modes check-config insists on. */
  async configure(o: ConfigOverrides = {}): Promise<void> {
    if (!('pki' in this.stack)) throw new Error('configure() needs the test stack and its PKI; this device talks to the sim alone');
    const stack = this.stack;
    const files = stack.pki.things[this.thing];
    if (!files) throw new Error(`no certificate for ${this.thing}`);
    const certs = this.c.path('/etc/iot-jobs-agent/certs');
    await mkdir(certs, { recursive: true, mode: 0o700 });
    await chmod(this.c.path('/etc/iot-jobs-agent'), 0o750);
    await chmod(certs, 0o700);
    await copyFile(files.certificateFile, join(certs, 'device.pem.crt'));
    await copyFile(stack.pki.caFile, join(certs, 'root-ca.pem'));
    await copyFile(files.privateKeyFile, join(certs, 'private.pem.key'));
    await chmod(join(certs, 'private.pem.key'), 0o600);
    await this.writeConfig(deviceConfig(stack, this.thing, o));
  }

  async writeConfig(config: unknown): Promise<void> {
    const file = this.c.path(CONFIG);
    await writeFile(file, typeof config === 'string' ? config : `${JSON.stringify(config, null, 2)}\n`, { mode: 0o640 });
    await chmod(file, 0o640);
  }

  /** What systemd reports about the unit now. */
  props(): Promise<Record<string, string>> {
    return this.c.show(UNIT, PROPS);
  }

  waitForUnit(pred: (p: Record<string, string>) => boolean, what: string, timeoutMs = 90_000): Promise<Record<string, string>> {
    return this.c.waitForUnit(UNIT, PROPS, pred, what, timeoutMs);
  }

  /** Started and connected: systemd saw READY=1 (active/running) and the agent's STATUS says idle. */
  async waitIdle(timeoutMs = 90_000): Promise<Record<string, string>> {
    return this.waitForUnit((p) => p.ActiveState === 'active' && p.SubState === 'running' && p.StatusText === 'idle', 'active/running with STATUS=idle', timeoutMs);
  }

  /** A fresh start of the unit, clearing the start rate limit (several scenarios restart it in one container). */
  async start(): Promise<Record<string, string>> {
    await this.c.exec(['systemctl', 'reset-failed', UNIT], { allowFail: true });
    await this.c.exec(['systemctl', 'start', UNIT], { timeoutMs: 180_000 });
    return this.waitIdle();
  }

  /** The agent's JSON log lines from the journal, in order; with `invocation`, only that run of the unit. */
  logLines(invocation?: string): Promise<Record<string, unknown>[]> {
    return this.c.logLines(UNIT, invocation);
  }

  waitForLog(pred: (l: Record<string, unknown>) => boolean, what: string, timeoutMs = 90_000): Promise<Record<string, unknown>> {
    return this.c.waitForLog(UNIT, pred, what, timeoutMs);
  }

  /** The unit's journal as text (systemd's own lines about it included). */
  journal(): Promise<string> {
    return this.c.journal(UNIT);
  }

  /** Writes (or, with undefined, removes) a drop-in for the unit, as `systemctl edit` would, and reloads systemd. */
  async dropIn(name: string, text: string | undefined): Promise<void> {
    const dir = this.c.path(`/etc/systemd/system/${UNIT}.d`);
    await mkdir(dir, { recursive: true });
    if (text === undefined) await rm(join(dir, `${name}.conf`), { force: true });
    else await writeFile(join(dir, `${name}.conf`), text);
    await this.c.exec(['systemctl', 'daemon-reload']);
  }

  /** The execution of `jobId` on this thing as the service has it: status and status details. */
  execution(jobId: string): { status: string; details: Record<string, string> } {
    const r = this.stack.sim.runtime.service.describeJobExecutionControl(jobId, this.thing);
    if (!r.ok) throw new Error(`the service has no execution of ${jobId} for ${this.thing}`);
    const e = r.value.execution as { status: string; statusDetails?: { detailsMap?: Record<string, string> } };
    return { status: e.status, details: e.statusDetails?.detailsMap ?? {} };
  }

  /** Waits until the service shows the execution in `status`. */
  waitForJob(jobId: string, status: string, timeoutMs = 90_000): Promise<{ status: string; details: Record<string, string> }> {
    return waitFor(() => {
      const r = this.stack.sim.runtime.service.describeJobExecutionControl(jobId, this.thing);
      return r.ok && r.value.execution.status === status ? this.execution(jobId) : undefined;
    }, `${jobId} ${status}`, timeoutMs);
  }

  /** Status changes this device made to its execution (progress updates within IN_PROGRESS left out). */
  statusChanges(jobId: string): string[] {
    return this.stack.sim.runtime.service
      .history()
      .filter((h) => h.jobId === jobId && h.thing === this.thing && h.by === 'device' && h.from !== h.to)
      .map((h) => h.to);
  }

  /** kill(1) is procps, which a minbase image lacks; the shell's builtin is there. */
  async signal(sig: string, pid: string): Promise<void> {
    await this.c.exec(['sh', '-c', `kill -${sig} ${pid}`]);
  }

  /** Opens the gate a `gatedJob` waits on. */
  async openGate(name: string): Promise<void> {
    await writeFile(join(this.c.path(GATES), name), '');
  }

  async stop(): Promise<void> {
    await this.c.stop();
  }
}

/**
 * Installs a .deb into an image that has not booted yet, as an image builder does (`dpkg -i` in a
 * chroot): the package's maintainer scripts run with no systemd up, so the unit is enabled for the
 * first boot and not started.
 */
export async function installIntoImage(root: string, debFile: string): Promise<void> {
  const inside = `/var/cache/ija-test/${basename(debFile)}`;
  await mkdir(dirname(join(root, inside)), { recursive: true });
  await copyFile(debFile, join(root, inside));
  await execFileP('chroot', [root, 'dpkg', '-i', inside], { timeout: 300_000, maxBuffer: 16 * 1024 * 1024, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8' } });
}

/** An `exec` job that runs until the test opens its gate (no timing guesses about how long a job takes). */
export function gatedJob(gate: string): Record<string, unknown> {
  return { operation: 'exec', command: ['sh', '-c', `while [ ! -e ${GATES}/${gate} ]; do sleep 0.1; done; echo gate ${gate} open`] };
}

/**
 * The same package with a higher version: what an upgrade installs. Repacked from the release .deb
 * (same files, same maintainer scripts, only `Version` changed), so the upgrade path that dpkg and
 * our maintainer scripts take is exactly the real one.
 */
export async function repackWithVersion(debFile: string, version: string, outDir: string): Promise<string> {
  const tree = join(outDir, `tree-${version}`);
  await rm(tree, { recursive: true, force: true });
  await execFileP('dpkg-deb', ['-R', debFile, tree]);
  const control = join(tree, 'DEBIAN', 'control');
  const text = await readFile(control, 'utf8');
  if (!/^Version: /m.test(text)) throw new Error(`${debFile}: control has no Version`);
  await writeFile(control, text.replace(/^Version: .*$/m, `Version: ${version}`));
  const arch = /^Architecture: (\S+)$/m.exec(text)?.[1] ?? 'amd64';
  const out = join(outDir, `iot-jobs-agent_${version}_${arch}.deb`);
  // gzip -1: a throwaway package, built for speed.
  await execFileP('dpkg-deb', ['-Zgzip', '-z1', '-b', tree, out], { maxBuffer: 16 * 1024 * 1024 });
  await rm(tree, { recursive: true, force: true });
  return out;
}

/** Waits for a condition on the host side (the sim's state): a cheap in-process check, polled. */
export async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
