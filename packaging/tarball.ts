/**
 * iot-jobs-agent-VERSION-linux-ARCH.tar.gz: one directory with the executable, the aws-crt
 * transport's files beside it, the unit, the example configs and the guides.
 */
import { chmodSync, copyFileSync, cpSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { NAME, RELEASE_DIR, ROOT, VERSION, WORK_DIR, type Arch } from './common';
import { tarGz } from './files';

export function tarballDir(arch: Arch): string {
  return `${NAME}-${VERSION}-linux-${arch}`;
}

export function tarballName(arch: Arch): string {
  return `${tarballDir(arch)}.tar.gz`;
}

/** Paths inside the tarball's directory, besides lib/iot-jobs-agent/node_modules/…: what the tests check. */
export const TARBALL_FILES = [
  'bin/iot-jobs-agent',
  'systemd/iot-jobs-agent.service',
  'systemd/README.md',
  'config/agent.example.json',
  'config/agent.local.json',
  'config/agent.schema.json',
  'handlers/README.md',
  'README.md',
  'NODEJS-LICENSE',
];

export function buildTarball(o: { arch: Arch; executable: string; crtTree: string; nodeLicense: string; epoch: number }): string {
  const parent = path.join(WORK_DIR, `tar-${o.arch}`);
  const top = path.join(parent, tarballDir(o.arch));
  rmSync(parent, { recursive: true, force: true });
  for (const f of TARBALL_FILES) mkdirSync(path.dirname(path.join(top, f)), { recursive: true });
  copyFileSync(o.executable, path.join(top, 'bin', NAME));
  chmodSync(path.join(top, 'bin', NAME), 0o755);
  for (const f of TARBALL_FILES.filter((f) => f.startsWith('systemd/') || f.startsWith('config/') || f.endsWith('README.md'))) {
    copyFileSync(path.join(ROOT, f), path.join(top, f));
  }
  copyFileSync(o.nodeLicense, path.join(top, 'NODEJS-LICENSE'));
  cpSync(o.crtTree, path.join(top, 'lib', NAME, 'node_modules'), { recursive: true });
  const out = path.join(RELEASE_DIR, tarballName(o.arch));
  tarGz(parent, tarballDir(o.arch), out, o.epoch);
  return out;
}
