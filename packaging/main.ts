/**
 * `npm run package` (after `npm run build`): every release artifact into release/ —
 * the standalone executables as tarballs and .deb packages for x64 and arm64, the npm package
 * and SHA256SUMS over them. Downloads are cached outside the clone (see common.ts cacheDir).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ARCHES, NAME, RELEASE_DIR, ROOT, VERSION, WORK_DIR, log, run, sha256, sourceDateEpoch } from './common';
import { bundle } from './bundle';
import { CRT_ROOT_PACKAGE, closure, copyCrtTree } from './crt-tree';
import { buildDeb } from './deb';
import { plainModes } from './files';
import { bundledPackages, debianCopyright, lockedPackages } from './licenses';
import { PINS, nodeLicense } from './runtime';
import { executable } from './sea';
import { buildTarball } from './tarball';

function step<T>(what: string, f: () => T): T {
  const t0 = Date.now();
  const result = f();
  log(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return result;
}

function npmPackage(): string {
  // The build already ran: the prepack script would only repeat it.
  const out = run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', RELEASE_DIR], { cwd: ROOT }).trim().split('\n').pop() ?? '';
  return path.join(RELEASE_DIR, out);
}

function checksums(): void {
  const files = readdirSync(RELEASE_DIR).filter((f) => f !== 'SHA256SUMS').sort();
  const lines = files.map((f) => `${sha256(readFileSync(path.join(RELEASE_DIR, f)))}  ${f}`);
  writeFileSync(path.join(RELEASE_DIR, 'SHA256SUMS'), `${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const epoch = sourceDateEpoch();
  rmSync(RELEASE_DIR, { recursive: true, force: true });
  mkdirSync(RELEASE_DIR, { recursive: true });
  const tb = Date.now();
  const b = await bundle();
  log(`bundle: ${((Date.now() - tb) / 1000).toFixed(1)} s`);
  log(`bundle: ${(b.bytes / 1024).toFixed(0)} KiB`);
  const bundled = bundledPackages(Object.keys(b.metafile.inputs));
  const crt = lockedPackages(closure());
  for (const arch of ARCHES) {
    const exe = step(`${arch}: executable`, () => executable(arch, b.file));
    log(`${arch}: executable ${exe.cached ? 'from the cache' : 'built'}, code cache ${exe.codeCache ? 'on' : 'off'}`);
    const crtTree = path.join(WORK_DIR, `crt-${arch}`, 'node_modules');
    step(`${arch}: ${CRT_ROOT_PACKAGE} files`, () => {
      copyCrtTree(arch, crtTree);
      plainModes(path.dirname(crtTree));
    });
    const license = nodeLicense(arch);
    step(`${arch}: tarball`, () => buildTarball({ arch, executable: exe.file, crtTree, nodeLicense: license, epoch }));
    const copyright = debianCopyright({ nodeVersion: PINS.version, nodeLicense: license, bundled, crt });
    step(`${arch}: .deb`, () => buildDeb({ arch, executable: exe.file, crtTree, copyright, nodeLicense: license, epoch }));
  }
  step('npm package', npmPackage);
  checksums();
  for (const f of readdirSync(RELEASE_DIR)) log(`release/${f}: ${(statSync(path.join(RELEASE_DIR, f)).size / 2 ** 20).toFixed(1)} MiB`);
  log(`${NAME} ${VERSION}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main().catch((err: unknown) => {
  process.stderr.write(`package failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
