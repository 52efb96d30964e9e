/**
 * Loads handler modules from directories (docs/ARCHITECTURE.md §6 "Handler modules"). A module runs with the
 * agent's privileges, so it is loaded only when nobody but root or the agent's user can have
 * changed it; every problem is reported and one broken handler never stops the others.
 */
import { lstatSync, readdirSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { errorMessage } from '../lib/errors';
import { isStandalone, requireFrom } from '../lib/standalone';
import type { HandlerLogger, JobHandler } from './api';

export interface LoadResult {
  handlers: Map<string, JobHandler>;
  problems: string[];
}

export interface LoadOptions {
  log?: HandlerLogger;
  /** The uid allowed to own handler files besides root (default: the agent's own). */
  uid?: number;
  /** Handlers compiled into the agent: loaded first, so a module with one of their names is a duplicate. */
  builtins?: readonly JobHandler[];
}

interface Candidate {
  file: string;
  /** Every path whose ownership and mode must be checked (the file and the directories holding it). */
  guarded: string[];
}

/** Why `p` may not be trusted, or undefined. */
export function unsafeReason(p: string, st: Stats, uid: number): string | undefined {
  if (st.isSymbolicLink()) return `${p} is a symbolic link`;
  if (st.uid !== 0 && st.uid !== uid) return `${p} is owned by uid ${st.uid} (must be root or ${uid})`;
  if ((st.mode & 0o022) !== 0) return `${p} is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`;
  return undefined;
}

function candidates(dir: string, problems: string[]): Candidate[] {
  const out: Candidate[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    // Leading '.' or '_': hidden files and helper folders shared by handlers, not handlers themselves.
    if (entry.name.startsWith('.') || entry.name.startsWith('_')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) problems.push(`${full}: symbolic link, not followed`);
    else if (entry.isFile() && /\.(m?js)$/.test(entry.name)) out.push({ file: full, guarded: [dir, full] });
    else if (entry.isDirectory()) {
      const index = path.join(full, 'index.js');
      try {
        if (lstatSync(index).isFile()) out.push({ file: index, guarded: [dir, full, index] });
      } catch {
        problems.push(`${full}: no index.js, not a handler`);
      }
    }
  }
  return out;
}

function checkGuarded(c: Candidate, uid: number): string | undefined {
  for (const p of c.guarded) {
    const reason = unsafeReason(p, lstatSync(p), uid);
    if (reason) return reason;
  }
  return undefined;
}

/** Node's own loader, not the one a bundler or test runner may have substituted for `import()`. */
const nativeImport = new Function('u', 'return import(u)') as (u: string) => Promise<Record<string, unknown>>;

/**
 * `.js` and `NAME/index.js` through a require made for the file (inside the standalone executable
 * the plain `require` reaches only Node's own modules). `.mjs` through `import()` under plain Node;
 * the executable's code cache rules out `import()`, so there it is `require(esm)` (Node 24), which
 * takes every ES module without top-level await.
 */
async function importModule(file: string): Promise<unknown> {
  if (file.endsWith('.mjs') && !isStandalone()) {
    const mod = await nativeImport(pathToFileURL(file).href);
    return mod.default;
  }
  const mod = requireFrom(file)(file) as { default?: unknown; __esModule?: boolean };
  return mod.default ?? mod;
}

/** Why `h` is not a JobHandler, or undefined. */
export function invalidHandler(h: unknown): string | undefined {
  if (typeof h !== 'object' || h === null) return 'the default export is not an object';
  const o = h as Record<string, unknown>;
  if (typeof o.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(o.name)) return 'name must be a non-empty string of letters, digits, . _ : -';
  if (typeof o.run !== 'function') return 'run must be a function';
  if (o.restartPolicy !== undefined && !['fail', 'rerun', 'resume'].includes(o.restartPolicy as string)) return 'restartPolicy must be fail, rerun or resume';
  if (o.restartPolicy === 'resume' && typeof o.resume !== 'function') return 'restartPolicy "resume" needs a resume function';
  if (o.validate !== undefined && typeof o.validate !== 'function') return 'validate must be a function';
  if (o.timeoutSeconds !== undefined && !(typeof o.timeoutSeconds === 'number' && o.timeoutSeconds > 0)) return 'timeoutSeconds must be a positive number';
  return undefined;
}

async function loadOne(c: Candidate, uid: number, into: Map<string, JobHandler>, sources: Map<string, string>): Promise<string | undefined> {
  const unsafe = checkGuarded(c, uid);
  if (unsafe) return `${c.file}: not loaded: ${unsafe}`;
  let exported: unknown;
  try {
    exported = await importModule(c.file);
  } catch (err) {
    return `${c.file}: failed to load: ${errorMessage(err)}`;
  }
  const invalid = invalidHandler(exported);
  if (invalid) return `${c.file}: not a handler: ${invalid}`;
  const h = exported as JobHandler;
  const earlier = sources.get(h.name);
  if (earlier) return `${c.file}: duplicate handler name "${h.name}" (already loaded from ${earlier}); ignored`;
  into.set(h.name, h);
  sources.set(h.name, c.file);
  return undefined;
}

export async function loadHandlers(dirs: string[], opts: LoadOptions = {}): Promise<LoadResult> {
  const uid = opts.uid ?? process.getuid?.() ?? 0;
  const handlers = new Map<string, JobHandler>();
  const sources = new Map<string, string>();
  const problems: string[] = [];
  for (const h of opts.builtins ?? []) {
    handlers.set(h.name, h);
    sources.set(h.name, 'the built-in handlers');
  }
  for (const dir of dirs) {
    let list: Candidate[];
    try {
      // The configured directory itself may be a symlink the operator chose; its target is what is checked.
      const unsafe = unsafeReason(dir, statSync(dir), uid);
      if (unsafe) {
        problems.push(`${dir}: handler directory not used: ${unsafe}`);
        continue;
      }
      list = candidates(dir, problems);
    } catch (err) {
      problems.push(`${dir}: cannot read handler directory: ${errorMessage(err)}`);
      continue;
    }
    for (const c of list) {
      const problem = await loadOne(c, uid, handlers, sources).catch((err: unknown) => `${c.file}: ${errorMessage(err)}`);
      if (problem) problems.push(problem);
    }
  }
  for (const p of problems) opts.log?.warn('handler problem', { problem: p });
  return { handlers, problems };
}
