/**
 * No import cycle in src/, type imports included. eslint's import-x/no-cycle skips `import type`,
 * so a circle made only partly of type imports would pass the lint; this walks every relative
 * import TypeScript itself sees (static, type-only, re-exports, dynamic import()).
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import * as ts from 'typescript';

const SRC = resolve(__dirname, '../../src');

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

function resolveImport(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(from), spec);
  return [`${base}.ts`, join(base, 'index.ts'), base].find((c) => existsSync(c) && statSync(c).isFile());
}

function importGraph(files: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of files) {
    const info = ts.preProcessFile(readFileSync(f, 'utf8'), true, true);
    const targets = info.importedFiles.map((i) => resolveImport(f, i.fileName)).filter((t): t is string => t !== undefined);
    graph.set(f, targets);
  }
  return graph;
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('import graph of src/', () => {
  it('finds a circle made of type imports (the check itself can fail)', () => {
    const a = join(SRC, 'sim/model.ts');
    const b = join(SRC, 'sim/types.ts');
    const c = join(SRC, 'sim/service.ts');
    expect(cycles(new Map([[a, [b]], [b, [c]], [c, [a]]]))).toEqual([[a, b, c].sort()]);
    expect(cycles(new Map([[a, [b]], [b, []], [c, [a]]]))).toEqual([]);
  });

  it('reads type-only imports and re-exports as edges', () => {
    const graph = importGraph([join(SRC, 'sim/jobs/retry.ts')]);
    const edges = (graph.get(join(SRC, 'sim/jobs/retry.ts')) ?? []).map((t) => relative(SRC, t));
    expect(edges).toEqual(expect.arrayContaining(['sim/model.ts', 'sim/types.ts', 'sim/jobs/validate.ts']));
  });

  it('has no cycle, type imports included', () => {
    const found = cycles(importGraph(tsFiles(SRC))).map((c) => c.map((f) => relative(SRC, f)));
    expect(found).toEqual([]);
  });
});
