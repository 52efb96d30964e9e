/**
 * The .deb for one architecture, made the Debian way: a staged tree with DEBIAN/control, md5sums
 * and maintainer scripts (packaging/debian/), built with dpkg-deb as root:root.
 */
import { chmodSync, copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { DEB_ARCH, NAME, RELEASE_DIR, ROOT, VERSION, WORK_DIR, run, type Arch } from './common';
import { cachedArtifact, md5File, setTimes } from './files';

export const DEBIAN_DIR = path.join(ROOT, 'packaging', 'debian');

export function debName(arch: Arch): string {
  return `${NAME}_${VERSION}_${DEB_ARCH[arch]}.deb`;
}

/** Maintainer: $DEB_MAINTAINER, else the project's maintainers' list. */
export function maintainer(): string {
  return process.env['DEB_MAINTAINER'] || `${NAME} maintainers <${NAME}@users.noreply.github.com>`;
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/@([A-Z]+)@/g, (m, k: string) => values[k] ?? m);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

function installedSizeKb(root: string): number {
  // dpkg's own estimate: 1 KiB per file or directory at least, sizes rounded up to KiB.
  let kb = 0;
  for (const e of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (path.relative(root, e.parentPath).split(path.sep)[0] === 'DEBIAN') continue;
    kb += e.isFile() ? Math.ceil(statSync(path.join(e.parentPath, e.name)).size / 1024) : 1;
  }
  return kb;
}

export interface DebInputs {
  arch: Arch;
  executable: string;
  crtTree: string;
  copyright: string;
  nodeLicense: string;
  epoch: number;
}

export function buildDeb(i: DebInputs): string {
  const stage = path.join(WORK_DIR, `deb-${i.arch}`);
  rmSync(stage, { recursive: true, force: true });
  const doc = path.join(stage, 'usr', 'share', 'doc', NAME);
  for (const d of ['DEBIAN', 'usr/bin', `usr/lib/${NAME}`, 'lib/systemd/system', 'usr/share/doc', `usr/share/doc/${NAME}/examples`]) mkdirSync(path.join(stage, d), { recursive: true, mode: 0o755 });
  // The package's own directories, empty: configuration (operator's) and state (the agent's).
  mkdirSync(path.join(stage, 'etc', NAME), { recursive: true });
  chmodSync(path.join(stage, 'etc', NAME), 0o750);
  mkdirSync(path.join(stage, 'var', 'lib', NAME), { recursive: true });
  chmodSync(path.join(stage, 'var', 'lib', NAME), 0o700);

  copyFileSync(i.executable, path.join(stage, 'usr', 'bin', NAME));
  chmodSync(path.join(stage, 'usr', 'bin', NAME), 0o755);
  cpSync(i.crtTree, path.join(stage, 'usr', 'lib', NAME, 'node_modules'), { recursive: true });
  copyFileSync(path.join(ROOT, 'systemd', `${NAME}.service`), path.join(stage, 'lib', 'systemd', 'system', `${NAME}.service`));
  for (const f of ['agent.example.json', 'agent.local.json', 'agent.schema.json']) copyFileSync(path.join(ROOT, 'config', f), path.join(doc, 'examples', f));
  copyFileSync(path.join(ROOT, 'handlers', 'README.md'), path.join(doc, 'handlers.md'));
  copyFileSync(path.join(ROOT, 'systemd', 'README.md'), path.join(doc, 'systemd.md'));
  writeFileSync(path.join(doc, 'copyright'), i.copyright);
  writeFileSync(path.join(doc, 'NODEJS-LICENSE.gz'), gzipSync(readFileSync(i.nodeLicense), { level: 9 }));
  const date = new Date(i.epoch * 1000).toUTCString().replace(/GMT$/, '+0000');
  const changelog = fill(readFileSync(path.join(DEBIAN_DIR, 'changelog.in'), 'utf8'), { NAME, VERSION, MAINTAINER: maintainer(), DATE: date });
  // A version without a Debian revision makes a native package, whose changelog is changelog.gz.
  writeFileSync(path.join(doc, 'changelog.gz'), gzipSync(changelog, { level: 9 }));
  const overrides = path.join(stage, 'usr', 'share', 'lintian', 'overrides');
  mkdirSync(overrides, { recursive: true });
  copyFileSync(path.join(DEBIAN_DIR, 'lintian-overrides'), path.join(overrides, NAME));

  for (const script of ['postinst', 'prerm', 'postrm']) {
    copyFileSync(path.join(DEBIAN_DIR, script), path.join(stage, 'DEBIAN', script));
    chmodSync(path.join(stage, 'DEBIAN', script), 0o755);
  }
  const sums = filesUnder(stage)
    .filter((f) => !path.relative(stage, f).startsWith('DEBIAN'))
    .map((f) => `${md5File(f)}  ${path.relative(stage, f)}`);
  writeFileSync(path.join(stage, 'DEBIAN', 'md5sums'), `${sums.join('\n')}\n`);
  const control = fill(readFileSync(path.join(DEBIAN_DIR, 'control.in'), 'utf8'), {
    NAME,
    VERSION,
    ARCH: DEB_ARCH[i.arch],
    MAINTAINER: maintainer(),
    SIZE: String(installedSizeKb(stage)),
  });
  writeFileSync(path.join(stage, 'DEBIAN', 'control'), control);
  chmodSync(path.join(stage, 'DEBIAN', 'md5sums'), 0o644);
  chmodSync(path.join(stage, 'DEBIAN', 'control'), 0o644);
  setTimes(stage, i.epoch);

  const out = path.join(RELEASE_DIR, debName(i.arch));
  // xz level 1: within 10 % of the default level's size, several times faster on a 100 MB binary.
  cachedArtifact(stage, out, () =>
    run('dpkg-deb', ['--root-owner-group', '-Zxz', '-z1', '--build', stage, out], { env: { ...process.env, SOURCE_DATE_EPOCH: String(i.epoch) } }),
  );
  return out;
}
