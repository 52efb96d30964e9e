/**
 * debian/copyright (machine-readable format) for what the packages carry: our code, the Node.js
 * runtime (its LICENSE covers Node and the libraries built into it), the JavaScript packages
 * bundled into the executable and the aws-crt transport's packages.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { NAME, ROOT } from './common';

interface PackageInfo {
  name: string;
  version: string;
  license: string;
}

function packageInfo(dir: string): PackageInfo {
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string; license?: unknown };
  const license = typeof pkg.license === 'string' ? pkg.license : 'see the package';
  return { name: pkg.name ?? path.basename(dir), version: pkg.version ?? '?', license };
}

/** The node_modules packages a bundle's metafile names as inputs. */
export function bundledPackages(inputs: string[]): PackageInfo[] {
  const dirs = new Set<string>();
  for (const input of inputs) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m?.[1]) dirs.add(m[1]);
  }
  return [...dirs].map((d) => packageInfo(path.resolve(ROOT, d))).sort((a, b) => a.name.localeCompare(b.name));
}

export function lockedPackages(lockPaths: string[]): PackageInfo[] {
  return lockPaths.map((p) => packageInfo(path.join(ROOT, p))).sort((a, b) => a.name.localeCompare(b.name));
}

/** A text as the body of a copyright field: every line indented, empty lines as " .". */
function indent(text: string): string {
  return text
    .replace(/\s+$/, '')
    .split('\n')
    .map((l) => (l.trim() === '' ? ' .' : ` ${l.replace(/\s+$/, '')}`))
    .join('\n');
}

function list(pkgs: PackageInfo[]): string {
  return indent(pkgs.map((p) => `${p.name} ${p.version}: ${p.license}`).join('\n'));
}

/** Node.js's own licence, the first quoted block of its LICENSE (the rest are the libraries inside it). */
function nodeOwnLicense(file: string): string {
  const text = readFileSync(file, 'utf8');
  const block = /"""\n([\s\S]*?)\n"""/.exec(text)?.[1];
  if (!block || !block.includes('Permission is hereby granted')) throw new Error(`${file}: no MIT licence block at the start`);
  return block;
}

export function debianCopyright(o: { nodeVersion: string; nodeLicense: string; bundled: PackageInfo[]; crt: PackageInfo[] }): string {
  return `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ${NAME}

Files: *
Copyright: Copyright the ${NAME} contributors
License: Apache-2.0
Comment: /usr/bin/${NAME} also holds these JavaScript packages, bundled, each under its own
 licence (named by the package):
${list(o.bundled)}

Files: usr/bin/${NAME}
Copyright: Copyright Node.js contributors
License: Expat
Comment: The executable is Node.js ${o.nodeVersion} (the official Linux binary) with this package's
 code injected as a single executable application. Node.js includes libraries under their own
 licences; Node.js's LICENSE file lists them all, in full:
 /usr/share/doc/${NAME}/NODEJS-LICENSE.gz

Files: usr/lib/${NAME}/node_modules/*
Copyright: Copyright the authors of each package
License: Apache-2.0 and others
Comment: aws-iot-device-sdk-v2, aws-crt (with its native addon) and the packages they need, each
 under its own licence (named by the package, its licence file beside it):
${list(o.crt)}

License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 is in
 /usr/share/common-licenses/Apache-2.0.

License: Expat
${indent(nodeOwnLicense(o.nodeLicense))}
`;
}
