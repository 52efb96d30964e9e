/**
 * A clean Debian 12 (bookworm) minbase root file system with systemd as init and no Node.js: what a
 * device image looks like before our package is installed. debootstrap is the slow part (≈ 40–90 s),
 * so the tree is built once into a cache outside the clone and shared by every run; each container
 * gets its own copy-on-write overlay of it (see container.ts), so every scenario starts clean.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Outside the clone: survives `git clean`, shared by every checkout on the machine. */
export const CACHE_ROOT = process.env['IOT_JOBS_AGENT_TEST_CACHE'] ?? '/var/cache/iot-jobs-agent-tests';

/** What every device image here has: systemd as PID 1, its tools, and a system bus. */
const STAMP = '.iot-jobs-agent-rootfs';

export const BASE_PACKAGES = ['systemd', 'systemd-sysv', 'dbus'];

/**
 * What scenarios that need more than a clean image add: libfaketime (a wrong clock), SoftHSM and
 * OpenSC's pkcs11-tool (a device key in a token). One set for all of them, so a fresh machine builds
 * two trees (clean, with tools), not one per scenario.
 */
export const TOOL_PACKAGES = ['faketime', 'opensc', 'softhsm2'];

export interface RootfsOptions {
  /** Packages a scenario needs on top of BASE_PACKAGES (e.g. faketime); each set is its own cache entry. */
  extraPackages?: string[];
  suite?: string;
}

/** The Debian mirror this machine's apt uses (deb822 or one-line sources), so debootstrap goes where apt goes. */
export function debianMirror(): string {
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) files.push(...readdirSync(dir).map((f) => join(dir, f)));
  for (const f of files) {
    if (!existsSync(f)) continue;
    const text = readFileSync(f, 'utf8');
    // deb822 stanza: a URIs line in a stanza whose Suites name bookworm (not -security).
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
      if (uri && /^Suites:.*\bbookworm\b(?!-)/m.test(stanza) && !uri.includes('security')) return uri;
    }
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text)?.[1];
    if (line && !line.includes('security')) return line;
  }
  return 'http://deb.debian.org/debian';
}

function cacheKey(suite: string, packages: string[]): string {
  return createHash('sha256').update(JSON.stringify({ suite, variant: 'minbase', packages })).digest('hex').slice(0, 12);
}

/** Mounts debootstrap can leave behind inside the target (seen: proc); the cached tree must have none. */
async function unmountInside(dir: string): Promise<void> {
  const mounts = (await readFile('/proc/mounts', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await run('umount', ['-l', m]);
}

async function debootstrap(target: string, suite: string, packages: string[]): Promise<void> {
  const args = ['--variant=minbase', `--include=${packages.join(',')}`, suite, target, debianMirror()];
  try {
    await run('debootstrap', args, { maxBuffer: 64 * 1024 * 1024, timeout: 15 * 60_000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    const log = existsSync(join(target, 'debootstrap/debootstrap.log')) ? await readFile(join(target, 'debootstrap/debootstrap.log'), 'utf8') : '';
    throw new Error(`debootstrap ${args.join(' ')} failed: ${e.message}\n${(e.stderr ?? '').slice(-2000)}\n${log.slice(-2000)}`);
  } finally {
    await unmountInside(target);
  }
}

/**
 * Holds an exclusive flock(1) on `file` until release(). The lock lives in a child that waits on its
 * stdin, so it is released however this process ends (its pipe closes, the child exits).
 */
async function holdLock(file: string): Promise<{ release(): void }> {
  const child = spawn('flock', ['-x', file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`flock ${file} exited with ${code}`)));
    child.stdout.once('data', () => resolve());
  });
  return { release: () => child.stdin.end() };
}

/**
 * The cached rootfs for this package set, building it if needed. The build holds a lock in the cache
 * (two test runs, or two jest workers, never race on one tree) and happens under a temporary name
 * that is renamed into place only when complete, so a run killed half way leaves nothing usable.
 */
export async function ensureRootfs(o: RootfsOptions = {}): Promise<string> {
  const suite = o.suite ?? 'bookworm';
  const packages = [...BASE_PACKAGES, ...(o.extraPackages ?? [])].sort();
  const name = `${suite}-minbase-${cacheKey(suite, packages)}`;
  const dir = join(CACHE_ROOT, name);
  const stamp = join(dir, STAMP);
  if (existsSync(stamp)) return dir;
  await mkdir(CACHE_ROOT, { recursive: true });
  const lock = await holdLock(join(CACHE_ROOT, `${name}.lock`));
  try {
    if (existsSync(stamp)) return dir; // built by whoever held the lock before us
    const partial = join(CACHE_ROOT, `${name}.partial`);
    await rm(partial, { recursive: true, force: true });
    await debootstrap(partial, suite, packages);
    const about = { suite, variant: 'minbase', packages, mirror: debianMirror(), built: new Date().toISOString() };
    await writeFile(join(partial, STAMP), `${JSON.stringify(about)}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
    return dir;
  } finally {
    lock.release();
  }
}
