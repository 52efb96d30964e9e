/**
 * The standalone executable (a Node.js single executable application, built by `npm run package`)
 * against a plain `node` running dist/. Inside the executable, `require` reaches only Node's own
 * modules; files on disk are loaded with a require made by `module.createRequire`, and what ships
 * beside the executable (aws-crt's native addon) is found relative to it.
 */
import { createRequire } from 'node:module';
import path from 'node:path';

let standalone: boolean | undefined;

export function isStandalone(): boolean {
  if (standalone === undefined) {
    try {
      // node:sea exists from Node 20.12; a test runner's module system may not know it.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      standalone = (require('node:sea') as { isSea(): boolean }).isSea();
    } catch {
      standalone = false;
    }
  }
  return standalone;
}

/**
 * Where the files that ship with the executable are: PREFIX/bin/iot-jobs-agent →
 * PREFIX/lib/iot-jobs-agent (the release tarball's directory, or /usr in the .deb).
 */
export function standaloneLibDir(execPath: string = process.execPath): string {
  return path.resolve(path.dirname(execPath), '..', 'lib', 'iot-jobs-agent');
}

/** A `require` that loads files from disk, relative to `file`, wherever this code runs. */
export function requireFrom(file: string): NodeJS.Require {
  return createRequire(file);
}
