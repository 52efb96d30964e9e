/** File helpers for staged trees: timestamps, modes, hashes, deterministic tarballs. */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { cacheDir, run } from './common';

/** Every entry under `root` (and `root`) gets mtime `epoch`: reruns give the same archive bytes. */
export function setTimes(root: string, epoch: number): void {
  for (const e of readdirSync(root, { recursive: true, withFileTypes: true })) utimesSync(path.join(e.parentPath, e.name), epoch, epoch);
  utimesSync(root, epoch, epoch);
}

/** Directories 0755, files 0644: nothing in a tree of JavaScript modules is run on its own. */
export function plainModes(root: string): void {
  for (const e of readdirSync(root, { recursive: true, withFileTypes: true })) {
    const p = path.join(e.parentPath, e.name);
    if (e.isDirectory()) chmodSync(p, 0o755);
    else if (e.isFile()) chmodSync(p, 0o644);
  }
}

/** A digest of a staged tree: paths, modes, mtimes, sizes and contents. */
export function treeDigest(root: string): string {
  const h = createHash('sha256');
  const entries = readdirSync(root, { recursive: true, withFileTypes: true }).map((e) => path.join(e.parentPath, e.name)).sort();
  for (const p of entries) {
    const st = lstatSync(p);
    h.update(`${path.relative(root, p)}\0${st.mode}\0${st.mtimeMs}\0${st.size}\0`);
    if (st.isFile()) h.update(readFileSync(p));
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * Compressing a 100 MB executable takes most of the packaging time: an archive is kept in the
 * cache under the digest of its staged tree, and a rerun with the same tree copies it.
 */
export function cachedArtifact(stage: string, out: string, make: () => void): void {
  const dir = path.join(cacheDir(), 'artifacts', path.basename(out));
  const cached = path.join(dir, treeDigest(stage));
  if (existsSync(cached)) {
    copyFileSync(cached, out);
    return;
  }
  make();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  copyFileSync(out, cached);
}

export function md5File(file: string): string {
  return createHash('md5').update(readFileSync(file)).digest('hex');
}

/** `dir` (a child of `parent`) as a .tar.gz whose bytes depend only on the contents. */
export function tarGz(parent: string, dir: string, out: string, epoch: number): void {
  setTimes(path.join(parent, dir), epoch);
  cachedArtifact(parent, out, () =>
    run('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${epoch}`, '--format=gnu', '--use-compress-program=gzip -6n', '-C', parent, '-cf', out, dir]),
  );
}
