/**
 * A booted Debian with systemd as PID 1, in `systemd-nspawn`: the device, as far as the agent can tell.
 *
 * - Its root is a fresh overlay (copy-on-write) over the cached rootfs, so every container starts
 *   clean and costs nothing to make; the host sees (and may write) its files under `root`.
 * - `--register=no --keep-unit`: the host has no systemd/dbus to register with. The container shares
 *   the host's network, so a service inside reaches the broker and the sim on the host's 127.0.0.1.
 * - Commands run inside with `nsenter` into its mount, PID, IPC and UTS namespaces: `systemctl` and
 *   `journalctl` there talk to the container's own systemd and journald, PIDs are the container's.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureRootfs } from './rootfs';
import type { RootfsOptions } from './rootfs';

export interface Bind {
  host: string;
  /** Absolute path inside the container (default: the same as `host`). */
  container?: string;
  readOnly?: boolean;
}

export interface BootOptions {
  rootfs?: RootfsOptions;
  /** Host directories bound into the container (e.g. a directory to step a scenario through). */
  binds?: Bind[];
  /** More systemd-nspawn arguments (e.g. `--setenv=`), for scenarios that need them. */
  nspawnArgs?: string[];
  /** How long boot may take before we give up (default 60 s: the machine is shared). */
  bootTimeoutMs?: number;
  /**
   * Builds the image before its first boot, given the container's `/` as the host sees it (e.g. a
   * package installed and files dropped in, as an image builder would): what the device finds on
   * the first power-on.
   */
  prepare?: (root: string) => Promise<void>;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  input?: string;
  timeoutMs?: number;
  /** Resolve with a non-zero exit instead of throwing. */
  allowFail?: boolean;
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const live = new Set<Container>();

// A test that dies half way must not leave a container running or an overlay mounted.
process.once('exit', () => {
  for (const c of live) c.forceCleanup();
});

async function waitUntil<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The container's init: the child of nspawn that runs systemd. */
function initPidOf(nspawnPid: number): number | undefined {
  const tasks = `/proc/${nspawnPid}/task`;
  if (!existsSync(tasks)) return undefined;
  for (const t of execFileSync('ls', [tasks]).toString().split('\n').filter(Boolean)) {
    const children = readFileSync(`${tasks}/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    for (const c of children) {
      try {
        if (readFileSync(`/proc/${c}/comm`, 'utf8').trim() === 'systemd') return Number(c);
      } catch {
        // exited between the two reads
      }
    }
  }
  return undefined;
}

export class Container {
  private console = '';
  private exited = false;
  private readonly exit: Promise<void>;
  initPid = 0;

  private constructor(
    readonly dir: string,
    /** The container's `/`, as the host sees it. */
    readonly root: string,
    private readonly nspawn: ChildProcess,
  ) {
    const collect = (b: Buffer): void => {
      this.console = (this.console + b.toString()).slice(-64 * 1024);
    };
    nspawn.stdout?.on('data', collect);
    nspawn.stderr?.on('data', collect);
    this.exit = new Promise((resolve) => nspawn.once('exit', () => {
      this.exited = true;
      resolve();
    }));
  }

  static async boot(o: BootOptions = {}): Promise<Container> {
    const lower = await ensureRootfs(o.rootfs);
    const dir = await mkdtemp(join(tmpdir(), 'ija-device-'));
    const root = join(dir, 'root');
    for (const d of ['upper', 'work', 'root']) await mkdir(join(dir, d));
    await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`, root]);
    if (o.prepare) {
      try {
        await o.prepare(root);
      } catch (err) {
        await run('umount', [root]).catch(() => run('umount', ['-l', root]));
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
    const binds = (o.binds ?? []).map((b) => `--bind${b.readOnly ? '-ro' : ''}=${b.host}:${b.container ?? b.host}`);
    const args = ['--register=no', '--keep-unit', '--quiet', '-D', root, `--machine=device-${dir.slice(-6).toLowerCase()}`, ...binds, ...(o.nspawnArgs ?? []), '-b', '--console=pipe'];
    const nspawn = spawn('systemd-nspawn', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH } });
    const c = new Container(dir, root, nspawn);
    live.add(c);
    try {
      const timeout = o.bootTimeoutMs ?? 60_000;
      c.initPid = await waitUntil(() => {
        if (c.exited) throw new Error(`systemd-nspawn exited during boot:\n${c.console}`);
        const pid = initPidOf(nspawn.pid ?? 0);
        // systemctl needs the manager's socket; it appears early in boot, before units start.
        return pid !== undefined && existsSync(`/proc/${pid}/root/run/systemd/private`) ? pid : undefined;
      }, 'the container init and its manager socket', timeout, 20);
      // Blocks until the boot transaction is done; "degraded" (a unit failed) is a finished boot too.
      const state = await c.exec(['systemctl', 'is-system-running', '--wait'], { allowFail: true, timeoutMs: timeout });
      if (!/^(running|degraded)$/m.test(state.stdout)) throw new Error(`container did not finish booting: ${state.stdout}${state.stderr}\n${c.console}`);
      return c;
    } catch (err) {
      await c.stop();
      throw err;
    }
  }

  /** Where a path inside the container is on the host. */
  path(p: string): string {
    return join(this.root, p);
  }

  /** Runs argv inside the container (its namespaces, a clean environment); throws on non-zero unless allowFail. */
  exec(argv: string[], o: ExecOptions = {}): Promise<ExecResult> {
    const ns = ['-t', String(this.initPid), '-m', '-p', '-i', '-u', '--', 'env', '-i', `PATH=${PATH}`, 'LANG=C.UTF-8', 'TERM=dumb', 'SYSTEMD_PAGER=', ...argv];
    return new Promise((resolve, reject) => {
      const child = execFile('nsenter', ns, { timeout: o.timeoutMs ?? 120_000, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? Number((err as { code: number }).code) : -1) : 0;
        if (code !== 0 && !o.allowFail) reject(new Error(`in container: ${argv.join(' ')} exited ${code}\n${stdout}${stderr}`));
        else resolve({ code, stdout, stderr });
      });
      if (o.input !== undefined) child.stdin?.end(o.input);
      else child.stdin?.end();
    });
  }

  sh(script: string, o: ExecOptions = {}): Promise<ExecResult> {
    return this.exec(['sh', '-euc', script], o);
  }

  /** `systemctl show UNIT -p …` as a map: what systemd itself reports. */
  async show(unit: string, props: string[]): Promise<Record<string, string>> {
    const r = await this.exec(['systemctl', 'show', unit, ...props.map((p) => `--property=${p}`)]);
    const out: Record<string, string> = {};
    for (const line of r.stdout.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
    }
    return out;
  }

  /** Polls `systemctl show` until `pred` holds; the error names the last state seen. */
  async waitForUnit(unit: string, props: string[], pred: (p: Record<string, string>) => boolean, what: string, timeoutMs = 60_000): Promise<Record<string, string>> {
    let last: Record<string, string> = {};
    try {
      return await waitUntil(async () => {
        last = await this.show(unit, props);
        return pred(last) ? last : undefined;
      }, `${unit}: ${what}`, timeoutMs, 100);
    } catch (err) {
      throw new Error(`${(err as Error).message}; last seen ${JSON.stringify(last)}\n${(await this.journal(unit)).slice(-3000)}`);
    }
  }

  /** The unit's journal, messages only (`-o cat`); with `invocation`, only that run of the unit (`InvocationID`). */
  async journal(unit: string, invocation?: string): Promise<string> {
    const only = invocation ? [`_SYSTEMD_INVOCATION_ID=${invocation}`] : [];
    return (await this.exec(['journalctl', '--no-pager', '-o', 'cat', '-u', unit, ...only], { allowFail: true })).stdout;
  }

  /** The unit's journal as the agent's JSON log lines (lines that are not JSON are kept as `{msg}`). */
  async logLines(unit: string, invocation?: string): Promise<Record<string, unknown>[]> {
    return (await this.journal(unit, invocation))
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return { msg: l };
        }
      });
  }

  /** Waits until the unit's journal has a line matching `pred`. */
  async waitForLog(unit: string, pred: (l: Record<string, unknown>) => boolean, what: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
    try {
      return await waitUntil(async () => (await this.logLines(unit)).find(pred), `${unit} to log ${what}`, timeoutMs, 200);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${(await this.journal(unit)).slice(-3000)}`);
    }
  }

  /** Powers the container off (systemd shuts down cleanly), unmounts the overlay, removes its files. */
  async stop(): Promise<void> {
    if (!this.exited) {
      this.nspawn.kill('SIGTERM'); // nspawn asks the container's systemd to halt
      const killer = setTimeout(() => this.nspawn.kill('SIGKILL'), 30_000);
      await this.exit;
      clearTimeout(killer);
    }
    await run('umount', [this.root]).catch(() => run('umount', ['-l', this.root]));
    await rm(this.dir, { recursive: true, force: true });
    live.delete(this);
  }

  /** Last resort at process exit: synchronous, best effort. */
  forceCleanup(): void {
    try {
      if (!this.exited) this.nspawn.kill('SIGKILL');
      execFileSync('umount', ['-l', this.root], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }

  get consoleOutput(): string {
    return this.console;
  }
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: { PATH } }, (err, _stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve()));
  });
}
