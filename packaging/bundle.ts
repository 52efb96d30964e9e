/**
 * One file of JavaScript for the standalone executables: the compiled CLI (dist/src/cli/main.js)
 * and everything it imports, built-in handlers included. Subcommands stay lazily evaluated (the
 * bundler wraps each CommonJS module and runs it on first require).
 */
import { build, type Metafile, type Plugin } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, WORK_DIR } from './common';

/**
 * Not in the bundle:
 * - the aws-crt SDK: it has a native addon, so it ships as files beside the executable and is
 *   loaded from there (src/transport/crt-load.ts);
 * - ajv: the build precompiles the config schema, ajv is needed only where that file is missing.
 */
export const EXTERNAL = ['aws-iot-device-sdk-v2', 'aws-crt', 'ajv'];

/**
 * Modules the agent's dependencies load at start-up for code paths a standalone Node executable never
 * takes, replaced by stand-ins. Each cost idle memory: the module's code, and the Node built-ins it
 * pulls in (bench/RESULTS.md measures what they bought).
 * - worker-timers (with broker-factory, fast-unique-numbers, @babel/runtime): mqtt.js uses its
 *   worker-based timers only in a browser;
 * - mqtt.js's browser detection: it reads `navigator`, which makes Node load its navigator and
 *   locks modules; this is not a browser;
 * - debug (with supports-color, loading tty and os): mqtt.js's trace output, enabled only by the
 *   DEBUG environment variable, which a device service does not set;
 * - thread-stream (worker_threads): pino's worker-thread transports, which the agent does not use
 *   (src/lib/log.ts writes to stdout synchronously);
 * - worker_threads in pino's tools: read for `isMainThread` alone, which the executable always is;
 * - assert in sonic-boom (pino's stdout writer): one argument check; node:assert itself loads its
 *   error formatting and comparison code.
 */
const STAND_INS: { filter: RegExp; importer?: RegExp; contents: string }[] = [
  {
    filter: /^worker-timers$/,
    contents: `const no = () => { throw new Error('worker timers are for browsers; not in the standalone executable'); };
module.exports = { setInterval: no, clearInterval: no, setTimeout: no, clearTimeout: no };`,
  },
  {
    filter: /^\.\/is-browser$/,
    importer: /[\\/]mqtt[\\/]build[\\/]lib[\\/]/,
    contents: `Object.defineProperty(exports, '__esModule', { value: true });
exports.default = false; exports.isWebWorker = false; exports.isReactNativeBrowser = false;`,
  },
  {
    filter: /^debug$/,
    contents: `function debug() { const d = () => undefined; d.enabled = false; d.namespace = ''; d.extend = debug; d.log = d; return d; }
debug.enable = () => undefined; debug.disable = () => ''; debug.enabled = () => false; debug.debug = debug; debug.default = debug;
module.exports = debug;`,
  },
  {
    filter: /^thread-stream$/,
    contents: `module.exports = class ThreadStream { constructor() { throw new Error('pino worker-thread transports are not in the standalone executable'); } };`,
  },
  {
    filter: /^worker_threads$/,
    importer: /[\\/]pino[\\/]lib[\\/]tools\.js$/,
    contents: `module.exports = { isMainThread: true };`,
  },
  {
    filter: /^assert$/,
    importer: /[\\/]sonic-boom[\\/]index\.js$/,
    contents: `module.exports = function assert(value, message) { if (!value) throw new Error(message); };`,
  },
];

function standIns(): Plugin {
  return {
    name: 'stand-ins',
    setup(b) {
      STAND_INS.forEach((s, i) => {
        b.onResolve({ filter: s.filter }, (args) =>
          s.importer && !s.importer.test(args.importer) ? undefined : { path: `stand-in-${i}`, namespace: 'stand-in' },
        );
      });
      b.onLoad({ filter: /.*/, namespace: 'stand-in' }, (args) => ({
        contents: STAND_INS[Number(args.path.slice('stand-in-'.length))]?.contents ?? '',
        loader: 'js',
      }));
    },
  };
}

/**
 * Edits to a dependency's own text, each checked: a new version that no longer matches fails the build
 * rather than quietly loading what the edit kept out.
 * - lru-cache (mqtt.js's topic aliases) reads the `performance` global when it loads, which makes Node
 *   load node:perf_hooks at every start; it times only TTL entries, and mqtt.js sets no TTL.
 */
const PATCHES: { file: RegExp; from: RegExp; to: string }[] = [
  {
    file: /[\\/]lru-cache[\\/]dist[\\/]commonjs[\\/]index\.js$/,
    from: /const perf = typeof performance === 'object' &&\s*performance &&\s*typeof performance\.now === 'function'\s*\?\s*performance\s*:\s*Date;/,
    to: 'const perf = Date;',
  },
];

function patches(): Plugin {
  return {
    name: 'patches',
    setup(b) {
      for (const p of PATCHES) {
        b.onLoad({ filter: p.file }, (args) => {
          const text = readFileSync(args.path, 'utf8');
          if (!p.from.test(text)) throw new Error(`bundle patch for ${args.path} no longer matches: review it against the new version`);
          return { contents: text.replace(p.from, p.to), loader: 'js' };
        });
      }
    },
  };
}

export interface Bundle {
  file: string;
  bytes: number;
  metafile: Metafile;
}

export async function bundle(): Promise<Bundle> {
  mkdirSync(WORK_DIR, { recursive: true });
  const file = path.join(WORK_DIR, 'iot-jobs-agent.js');
  // Plugins need the asynchronous API.
  const result = await build({
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
    plugins: [standIns(), patches()],
  });
  writeFileSync(path.join(WORK_DIR, 'bundle-meta.json'), JSON.stringify(result.metafile));
  const out = result.metafile.outputs[path.relative(process.cwd(), file)] ?? Object.values(result.metafile.outputs)[0];
  return { file, bytes: out?.bytes ?? 0, metafile: result.metafile };
}
