/**
 * The aws-crt transport's files for one architecture: aws-iot-device-sdk-v2 and every package it
 * needs at run time, copied from the clone's node_modules (the exact versions of package-lock.json),
 * with aws-crt's native addon for that architecture only and without what nothing loads (types,
 * source maps, sources, browser builds, other platforms' addons). The executable loads them from
 * PREFIX/lib/iot-jobs-agent/node_modules.
 */
import { closeSync, cpSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT, type Arch } from './common';

export const CRT_ROOT_PACKAGE = 'aws-iot-device-sdk-v2';

interface LockEntry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** Where Node would find `name` from the package at lock path `from` ('' = the project). */
function resolveIn(lock: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (lock[candidate]) return candidate;
    if (!dir) return undefined;
    const i = dir.lastIndexOf('/node_modules/');
    dir = i < 0 ? '' : dir.slice(0, i);
  }
}

/** Lock paths (node_modules/…) of `root` and everything it depends on, types-only packages left out. */
export function closure(root: string = CRT_ROOT_PACKAGE): string[] {
  const lock = (JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }).packages;
  const seen = new Set<string>();
  const todo = [`node_modules/${root}`];
  for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
    if (seen.has(p) || /(^|\/)node_modules\/@types\//.test(p)) continue;
    seen.add(p);
    const e = lock[p] ?? {};
    for (const dep of Object.keys({ ...e.dependencies, ...e.optionalDependencies })) {
      const found = resolveIn(lock, p, dep);
      if (found) todo.push(found);
    }
  }
  return [...seen].sort();
}

/** Directories of a package that nothing loads at run time. */
const UNUSED_DIRS: Record<string, string[]> = {
  'aws-crt': ['dist.browser', 'lib', 'source', 'scripts', 'crt'],
  'aws-iot-device-sdk-v2': ['lib', 'documents', 'servicetests'],
};

const LICENSE = /^(licen[cs]e|notice|copying)/i;

/** A package's command-line script (`#!/usr/bin/env node`): there is no node to run it on a device. */
function isScript(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head.toString() === '#!';
  } finally {
    closeSync(fd);
  }
}

function wanted(file: string): boolean {
  const base = path.basename(file);
  if (LICENSE.test(base)) return true;
  return !/\.(map|ts|cts|mts|md|markdown|py)$/i.test(base) && base !== 'CMakeLists.txt' && !base.startsWith('.') && !isScript(file);
}

/** Copy the tree for `arch` into `dest` (…/lib/iot-jobs-agent/node_modules). */
export function copyCrtTree(arch: Arch, dest: string): void {
  rmSync(dest, { recursive: true, force: true });
  for (const lockPath of closure()) {
    const name = lockPath.slice(lockPath.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const from = path.join(ROOT, lockPath);
    const to = path.join(dest, lockPath.slice('node_modules/'.length));
    const unused = (UNUSED_DIRS[name] ?? []).map((d) => path.join(from, d));
    mkdirSync(to, { recursive: true });
    cpSync(from, to, {
      recursive: true,
      filter: (src) => {
        if (src === from) return true;
        const rel = path.relative(from, src);
        // Nested node_modules are packages of their own in the closure.
        if (rel.split(path.sep)[0] === 'node_modules' || unused.some((u) => src === u)) return false;
        if (name === 'aws-crt' && rel.startsWith(`dist${path.sep}bin${path.sep}`)) {
          const platform = rel.split(path.sep)[2];
          if (platform !== undefined && platform !== `linux-${arch}-glibc`) return false;
        }
        return statSync(src).isDirectory() ? !path.basename(src).startsWith('.') : wanted(src);
      },
    });
  }
}
