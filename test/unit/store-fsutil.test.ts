import { promises as fsp, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { appendDurable, atomicWriteFile, removeStaleTemps } from '../../src/lib/fsutil';
import { acquireLock } from '../../src/store/lock';

let dir: string;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'fsutil-'));
});
afterEach(() => fsp.rm(dir, { recursive: true, force: true }));

describe('atomicWriteFile', () => {
  it('creates and replaces a file with the given mode and leaves no temporary file', async () => {
    const file = path.join(dir, 'state.json');
    await atomicWriteFile(file, 'one');
    await atomicWriteFile(file, Buffer.from('two'), 0o640);
    expect(await fsp.readFile(file, 'utf8')).toBe('two');
    expect((await fsp.stat(file)).mode & 0o777).toBe(0o640);
    expect(await fsp.readdir(dir)).toEqual(['state.json']);
  });

  it('defaults to 0600 and fails cleanly when the directory is missing', async () => {
    const file = path.join(dir, 'secret');
    await atomicWriteFile(file, 'x');
    expect((await fsp.stat(file)).mode & 0o777).toBe(0o600);
    await expect(atomicWriteFile(path.join(dir, 'nope/file'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('removes its temporary file when the rename fails', async () => {
    const target = path.join(dir, 'target');
    await fsp.mkdir(target);
    await fsp.writeFile(path.join(target, 'child'), '');
    await expect(atomicWriteFile(target, 'x')).rejects.toBeDefined();
    expect((await fsp.readdir(dir)).sort()).toEqual(['target']);
  });
});

describe('appendDurable and removeStaleTemps', () => {
  it('appends in order', async () => {
    const file = path.join(dir, 'log');
    const handle = await fsp.open(file, 'a');
    await appendDurable(handle, 'a\n');
    await appendDurable(handle, Buffer.from('b\n'));
    await handle.close();
    expect(readFileSync(file, 'utf8')).toBe('a\nb\n');
  });

  it('removes only the temporaries of the named file', async () => {
    for (const n of ['.snap.json.1.aa.tmp', '.snap.json.2.bb.tmp', '.other.1.cc.tmp', 'snap.json']) await fsp.writeFile(path.join(dir, n), '');
    await removeStaleTemps(dir, 'snap.json');
    expect((await fsp.readdir(dir)).sort()).toEqual(['.other.1.cc.tmp', 'snap.json']);
  });
});

describe('state directory lock', () => {
  const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

  it('is held by a live process of this boot, and released on request', async () => {
    await fsp.writeFile(path.join(dir, 'agent.lock'), `1 ${bootId}\n`);
    await expect(acquireLock(dir)).rejects.toMatchObject({ code: 'StoreLocked', message: expect.stringContaining('process 1') });
    await fsp.rm(path.join(dir, 'agent.lock'));
    const release = await acquireLock(dir);
    expect(readFileSync(path.join(dir, 'agent.lock'), 'utf8')).toBe(`${process.pid} ${bootId}\n`);
    await release();
    expect(await fsp.readdir(dir)).toEqual([]);
  });

  it('is taken over when written before a reboot, even if that pid is alive now', async () => {
    await fsp.writeFile(path.join(dir, 'agent.lock'), '1 00000000-0000-0000-0000-000000000000\n');
    const release = await acquireLock(dir);
    await release();
  });

  it('is taken over when empty (owner died while writing it)', async () => {
    await fsp.writeFile(path.join(dir, 'agent.lock'), '');
    const release = await acquireLock(dir);
    await release();
  });
});
