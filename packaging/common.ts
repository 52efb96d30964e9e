/** What every packaging step shares: where things are, the version, running tools, hashing. */
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** dist/packaging → the repository. */
export const ROOT = path.resolve(__dirname, '..', '..');
export const RELEASE_DIR = path.join(ROOT, 'release');
/** Intermediate files (bundle, blobs, staged trees); dist/ is already ignored by git. */
export const WORK_DIR = path.join(ROOT, 'dist', 'package');

export type Arch = 'x64' | 'arm64';
export const ARCHES: readonly Arch[] = ['x64', 'arm64'];
/** Debian's names for the same architectures. */
export const DEB_ARCH: Record<Arch, string> = { x64: 'amd64', arm64: 'arm64' };

export const PACKAGE = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; description: string };
export const NAME = PACKAGE.name;
export const VERSION = PACKAGE.version;

/**
 * Downloads outside the clone, so that CI and reruns do not fetch again:
 * $IOT_JOBS_AGENT_CACHE, else $XDG_CACHE_HOME/iot-jobs-agent, else ~/.cache/iot-jobs-agent.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['IOT_JOBS_AGENT_CACHE'] || path.join(env['XDG_CACHE_HOME'] || path.join(homedir(), '.cache'), NAME);
}

/** Every file's timestamp in the artifacts: the last commit's time, so that reruns give the same bytes. */
export function sourceDateEpoch(): number {
  const fromEnv = Number(process.env['SOURCE_DATE_EPOCH']);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  try {
    return Number(execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: ROOT, encoding: 'utf8' }).trim());
  } catch {
    return Math.floor(Date.now() / 1000);
  }
}

export function run(cmd: string, args: string[], opts: ExecFileSyncOptions = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, ...opts }).toString();
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function log(msg: string): void {
  process.stderr.write(`[package] ${msg}\n`);
}
