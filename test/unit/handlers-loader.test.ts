import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { builtinHandlers } from '../../handlers/_builtins';
import { invalidHandler, loadHandlers } from '../../src/handlers/loader';
import { handlerOptions, loadAllHandlers } from '../../src/handlers/registry';

const handlerSrc = (name: string, extra = ''): string =>
  `module.exports = { name: ${JSON.stringify(name)}, ${extra} run: async () => ({ status: 'SUCCEEDED' }) };\n`;

function write(file: string, text: string, mode = 0o644): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  writeFileSync(file, text, { mode });
  chmodSync(file, mode);
}

describe('handler loader', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'handlers-loader-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('loads NAME.js and NAME/index.js, default export or module.exports', async () => {
    const dir = path.join(root, 'a');
    write(path.join(dir, 'plain.js'), handlerSrc('plain'));
    write(path.join(dir, 'esm.js'), `exports.__esModule = true; exports.default = { name: 'esm-style', run: async () => ({ status: 'FAILED' }) };\n`);
    write(path.join(dir, 'folder', 'index.js'), handlerSrc('folder'));
    write(path.join(dir, '_shared', 'util.js'), 'module.exports = {};\n');
    write(path.join(dir, 'README.md'), '# not a handler\n');
    const { handlers, problems } = await loadHandlers([dir]);
    expect([...handlers.keys()].sort()).toEqual(['esm-style', 'folder', 'plain']);
    expect(problems).toEqual([]);
    await expect(handlers.get('esm-style')!.run({} as never)).resolves.toEqual({ status: 'FAILED' });
  });

  it('reports broken, invalid and duplicate handlers without stopping the others', async () => {
    const a = path.join(root, 'a');
    const b = path.join(root, 'b');
    write(path.join(a, 'good.js'), handlerSrc('good'));
    write(path.join(a, 'broken.js'), "throw new Error('boom at load');\n");
    write(path.join(a, 'empty.js'), 'module.exports = {};\n');
    write(path.join(a, 'badpolicy.js'), handlerSrc('badpolicy', "restartPolicy: 'resume',"));
    write(path.join(b, 'again.js'), handlerSrc('good'));
    write(path.join(b, 'other.js'), handlerSrc('other'));
    mkdirSync(path.join(b, 'noindex'), { mode: 0o755 });
    const { handlers, problems } = await loadHandlers([a, b, path.join(root, 'missing')]);
    expect([...handlers.keys()].sort()).toEqual(['good', 'other']);
    const text = problems.join('\n');
    expect(text).toContain('broken.js: failed to load: boom at load');
    expect(text).toContain('empty.js: not a handler: name must be');
    expect(text).toContain('badpolicy.js: not a handler: restartPolicy "resume" needs a resume function');
    expect(text).toMatch(/again\.js: duplicate handler name "good" \(already loaded from .*good\.js\)/);
    expect(text).toContain('noindex: no index.js');
    expect(text).toContain('missing: cannot read handler directory');
    expect(problems).toHaveLength(6);
  });

  it('refuses files or directories others could have changed', async () => {
    const dir = path.join(root, 'a');
    write(path.join(dir, 'ok.js'), handlerSrc('ok'));
    write(path.join(dir, 'groupw.js'), handlerSrc('groupw'), 0o664);
    write(path.join(dir, 'worldw.js'), handlerSrc('worldw'), 0o646);
    write(path.join(dir, 'foreign.js'), handlerSrc('foreign'));
    chownSync(path.join(dir, 'foreign.js'), 65534, 65534);
    write(path.join(dir, 'opendir', 'index.js'), handlerSrc('opendir'));
    chmodSync(path.join(dir, 'opendir'), 0o777);
    symlinkSync(path.join(dir, 'ok.js'), path.join(dir, 'link.js'));
    const { handlers, problems } = await loadHandlers([dir], { uid: 4242 });
    expect([...handlers.keys()]).toEqual(['ok']);
    const text = problems.join('\n');
    expect(text).toMatch(/groupw\.js: not loaded: .* writable by group or others \(mode 664\)/);
    expect(text).toMatch(/worldw\.js: not loaded: .* writable by group or others/);
    expect(text).toMatch(/foreign\.js: not loaded: .* owned by uid 65534 \(must be root or 4242\)/);
    expect(text).toMatch(/opendir\/index\.js: not loaded: .*opendir is writable by group or others/);
    expect(text).toContain('link.js: symbolic link, not followed');

    const open = path.join(root, 'open');
    write(path.join(open, 'x.js'), handlerSrc('x'));
    chmodSync(open, 0o777);
    const second = await loadHandlers([open]);
    expect(second.handlers.size).toBe(0);
    expect(second.problems[0]).toContain('handler directory not used');
  });

  it('checks the shape of a handler', () => {
    expect(invalidHandler({ name: 'x', run: () => undefined })).toBeUndefined();
    expect(invalidHandler(null)).toBeDefined();
    expect(invalidHandler({ name: 'a/b', run: () => undefined })).toContain('name');
    expect(invalidHandler({ name: 'x', run: () => undefined, timeoutSeconds: -1 })).toContain('timeoutSeconds');
  });

  it('lists every built-in handler folder, each a valid handler named after its folder', () => {
    const folders = readdirSync(path.join(__dirname, '..', '..', 'handlers'), { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('_'))
      .map((e) => e.name)
      .sort();
    expect(builtinHandlers.map((h) => h.name).sort()).toEqual(folders);
    for (const h of builtinHandlers) expect(invalidHandler(h)).toBeUndefined();
  });

  it('loads the built-ins first: a module with a built-in name is a duplicate', async () => {
    const dir = path.join(root, 'a');
    write(path.join(dir, 'exec.js'), handlerSrc('exec'));
    write(path.join(dir, 'mine.js'), handlerSrc('mine'));
    const { handlers, problems } = await loadHandlers([dir], { builtins: builtinHandlers });
    expect(handlers.get('exec')).toBe(builtinHandlers.find((h) => h.name === 'exec'));
    expect(handlers.has('mine')).toBe(true);
    expect(problems).toEqual([expect.stringMatching(/exec\.js: duplicate handler name "exec" \(already loaded from the built-in handlers\)/)]);
  });
});

describe('handler registry', () => {
  it('adds device-client-steps to the loaded handlers and gives exec the allowShell setting', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'registry-'));
    write(path.join(dir, 'exec', 'index.js'), handlerSrc('exec'));
    const cfg = { directories: [dir], scriptDirectories: [], defaultTimeoutSeconds: 60, allowShell: true, options: { exec: { x: 1 } } };
    const { handlers, problems } = await loadAllHandlers(cfg);
    expect([...handlers.keys()]).toEqual(['exec', 'device-client-steps']);
    expect(problems).toEqual([]);
    expect(handlerOptions(cfg, 'exec')).toEqual({ x: 1, allowShell: true });
    expect(handlerOptions(cfg, 'reboot')).toEqual({});
    rmSync(dir, { recursive: true, force: true });
  });
});
