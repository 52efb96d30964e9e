/**
 * One file of JavaScript for the standalone executables: the compiled CLI (dist/src/cli/main.js)
 * and everything it imports, built-in handlers included. Subcommands stay lazily evaluated (the
 * bundler wraps each CommonJS module and runs it on first require).
 */
import { buildSync, type Metafile } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, WORK_DIR } from './common';

/**
 * Not in the bundle:
 * - the aws-crt SDK: it has a native addon, so it ships as files beside the executable and is
 *   loaded from there (src/transport/crt-load.ts);
 * - ajv: the build precompiles the config schema, ajv is needed only where that file is missing.
 */
export const EXTERNAL = ['aws-iot-device-sdk-v2', 'aws-crt', 'ajv'];

export interface Bundle {
  file: string;
  bytes: number;
  metafile: Metafile;
}

export function bundle(): Bundle {
  mkdirSync(WORK_DIR, { recursive: true });
  const file = path.join(WORK_DIR, 'iot-jobs-agent.js');
  const result = buildSync({
    entryPoints: [path.join(ROOT, 'dist', 'src', 'cli', 'main.js')],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node24',
    minify: true,
    legalComments: 'eof',
    external: EXTERNAL,
    metafile: true,
    logLevel: 'warning',
  });
  writeFileSync(path.join(WORK_DIR, 'bundle-meta.json'), JSON.stringify(result.metafile));
  const out = result.metafile.outputs[path.relative(process.cwd(), file)] ?? Object.values(result.metafile.outputs)[0];
  return { file, bytes: out?.bytes ?? 0, metafile: result.metafile };
}
