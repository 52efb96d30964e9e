/**
 * The standalone executable: the pinned Node.js binary with the bundle injected as a single
 * executable application (node --experimental-sea-config, then postject).
 *
 * The preparation blob must come from the same Node.js as the binary; with a code cache it is
 * also specific to the architecture, so the arm64 blob is made by the arm64 node, under
 * qemu-aarch64-static on other hosts. Without it, the arm64 executable is built without a code
 * cache (it then compiles the bundle at every start) and the build says so.
 */
import { copyFileSync, chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { arch as hostArch } from 'node:os';
import path from 'node:path';
import { WORK_DIR, cacheDir, log, run, sha256, type Arch } from './common';
import { PINS, nodeBinary, onPath } from './runtime';

/** The fuse Node.js looks for to know a blob was injected (Node's SEA documentation). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** How to run the arm64 node here, or undefined. */
function runnerFor(arch: Arch): string[] | undefined {
  if (arch === hostArch()) return [];
  const qemu = arch === 'arm64' ? onPath('qemu-aarch64-static') : undefined;
  return qemu === undefined ? undefined : [qemu];
}

export interface Executable {
  file: string;
  codeCache: boolean;
  cached: boolean;
}

/**
 * V8 flags the executable starts with; memory wins where it trades against speed no device can use
 * (AWS IoT Core takes about 100 publishes a second per connection). Each was measured side by side
 * (bench/RESULTS.md):
 * - a 1 MB young generation (semi-space): the idle agent allocates little, scavenges stay cheap;
 * - --optimize-for-size: V8 prefers smaller heap layouts and code;
 * - --no-opt --no-maglev: no optimizing compilers (Sparkplug's baseline code stays), so their code
 *   and the binary's pages holding them are never touched.
 * Lite mode (--lite-mode) saves as much but gives up Sparkplug too, which halves the drain rate.
 * The blob is made under the same flags: V8 rejects a code cache made under other flags.
 */
export const EXEC_ARGV = ['--max-semi-space-size=1', '--optimize-for-size', '--no-opt', '--no-maglev'];

function seaConfig(main: string, blob: string, codeCache: boolean): string {
  return JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: codeCache, execArgv: EXEC_ARGV }, null, 2);
}

/** Copy, then rename over `to`: an executable still running from `to` (ETXTBSY) keeps its old file. */
function replaceWith(from: string, to: string): void {
  copyFileSync(from, `${to}.new`);
  chmodSync(`${to}.new`, 0o755);
  renameSync(`${to}.new`, to);
}

/** Build (or take from the cache) the executable for `arch` from `bundleFile`; returns where it is. */
export function executable(arch: Arch, bundleFile: string): Executable {
  const node = nodeBinary(arch);
  const runner = runnerFor(arch);
  const codeCache = runner !== undefined;
  if (!codeCache) log(`${arch}: no way to run the ${arch} node here (install qemu-user-static): building without a code cache`);
  const key = sha256([readFileSync(bundleFile, 'utf8'), PINS.arches[arch].integrity, String(codeCache), SEA_FUSE, ...EXEC_ARGV].join('\0')).slice(0, 16);
  const cacheRoot = path.join(cacheDir(), 'sea', arch);
  const cached = path.join(cacheRoot, key, 'iot-jobs-agent');
  const dir = path.join(WORK_DIR, arch);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'iot-jobs-agent');
  if (existsSync(cached)) {
    replaceWith(cached, file);
    return { file, codeCache, cached: true };
  }
  const config = path.join(dir, 'sea-config.json');
  const blob = path.join(dir, 'sea.blob');
  writeFileSync(config, seaConfig(bundleFile, blob, codeCache));
  // Without a code cache the blob holds only the script: any Node of the same version can make it.
  const maker = codeCache ? [...(runner ?? []), node] : [nodeBinary(hostArch() as Arch)];
  run(maker[0] ?? node, [...maker.slice(1), ...EXEC_ARGV, '--experimental-sea-config', config], { cwd: dir });
  const fresh = `${file}.new`;
  copyFileSync(node, fresh);
  chmodSync(fresh, 0o755);
  run(process.execPath, [require.resolve('postject/dist/cli.js'), fresh, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
  renameSync(fresh, file);
  // Keep one executable per architecture in the cache: each is over 100 MB.
  rmSync(cacheRoot, { recursive: true, force: true });
  mkdirSync(path.dirname(cached), { recursive: true });
  copyFileSync(file, cached);
  return { file, codeCache, cached: false };
}
