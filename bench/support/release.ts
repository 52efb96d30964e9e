/**
 * The RELEASE agent: the x64 standalone executable from release/ (npm run package), unpacked once
 * per benchmark run as a device would get it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeBinary } from '../../packaging/runtime';
import { repoRoot } from './proc';

let exe: string | undefined;

export function releaseExecutable(): string {
  if (exe) return exe;
  const version = (JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  const name = `iot-jobs-agent-${version}-linux-x64`;
  const tarball = join(repoRoot(), 'release', `${name}.tar.gz`);
  if (!existsSync(tarball)) throw new Error(`${tarball} is missing: npm run package first (npm run bench does)`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-release-'));
  execFileSync('tar', ['-xzf', tarball, '-C', dir]);
  exe = join(dir, name, 'bin', 'iot-jobs-agent');
  return exe;
}

/** The executable's own runtime: the pinned x64 Node binary it was built from (the packaging cache). */
export function pinnedNode(): string {
  return nodeBinary('x64');
}
