/**
 * The Node.js binary for each architecture, from the npm registry packages pinned in runtime.json,
 * fetched once with npm itself into the cache and checked against the pinned integrity every time.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { arch as hostArch } from 'node:os';
import path from 'node:path';
import { ROOT, cacheDir, log, run, type Arch } from './common';

interface Pins {
  version: string;
  arches: Record<Arch, { package: string; integrity: string }>;
}

export const PINS = JSON.parse(readFileSync(path.join(ROOT, 'packaging', 'runtime.json'), 'utf8')) as Pins;

function integrityOf(file: string): string {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/** The pinned package tarball in the cache, fetched if absent; throws when it is not the pinned one. */
function tarball(arch: Arch): string {
  const { package: pkg, integrity } = PINS.arches[arch];
  const dir = path.join(cacheDir(), 'runtime');
  const file = path.join(dir, `${pkg}-${PINS.version}.tgz`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true });
    log(`fetching ${pkg}@${PINS.version}`);
    run('npm', ['pack', `${pkg}@${PINS.version}`, '--pack-destination', dir, '--silent'], { cwd: dir });
  }
  const got = integrityOf(file);
  if (got !== integrity) {
    rmSync(file);
    throw new Error(`${file}: integrity ${got} is not the pinned ${integrity} (packaging/runtime.json); removed it`);
  }
  return file;
}

/**
 * The official binaries carry their debug information (≈ 18 MB on x64); Debian packages ship
 * binaries without it. The arm64 one needs binutils for aarch64 on other hosts.
 */
function stripTool(arch: Arch): string {
  if (arch === hostArch()) return 'strip';
  const cross = 'aarch64-linux-gnu-strip';
  if (arch === 'arm64' && onPath(cross)) return cross;
  throw new Error(`cannot strip the ${arch} node binary here: install binutils-aarch64-linux-gnu (${cross})`);
}

export function onPath(program: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const p = path.join(dir, program);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** Path of the pinned `node` for `arch`, extracted and stripped once beside its tarball. */
export function nodeBinary(arch: Arch): string {
  const file = tarball(arch);
  const dir = file.replace(/\.tgz$/, '');
  const node = path.join(dir, 'package', 'bin', 'node');
  if (!existsSync(node)) {
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    run('tar', ['-xzf', file, '-C', tmp, 'package/bin/node', 'package/LICENSE']);
    run(stripTool(arch), [path.join(tmp, 'package', 'bin', 'node')]);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  return node;
}

/** Node.js's own licence text (and its bundled dependencies'), shipped beside the runtime. */
export function nodeLicense(arch: Arch): string {
  return path.join(path.dirname(path.dirname(nodeBinary(arch))), 'LICENSE');
}
