/** The safe process helper against real child processes (docs/ARCHITECTURE.md §4). */
import { readFileSync, openSync, closeSync } from 'node:fs';
import { createProcessRunner, SAFE_PATH } from '../../src/handlers/process';
import { RejectError, HandlerFailure } from '../../src/handlers/errors';
import { AbortedError } from '../../src/lib/errors';

const runner = createProcessRunner({ allowShell: false });
const shellRunner = createProcessRunner({ allowShell: true });

/** Gone = no such pid, or a zombie nobody has reaped yet (it runs no code and holds no resources). */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

/**
 * A process sent SIGKILL dies when the kernel next schedules it: on a loaded machine that can be
 * a moment after the runner returned, so wait for it (bounded) instead of looking once.
 */
async function goneSoon(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!isGone(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

function pidCollector(): { pids: number[]; onOutput: (s: 'stdout' | 'stderr', c: Buffer) => void; seen: (n: number) => Promise<void> } {
  const pids: number[] = [];
  let text = '';
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  return {
    pids,
    onOutput: (s, c) => {
      if (s !== 'stdout') return;
      text += c.toString();
      pids.splice(0, pids.length, ...text.split('\n').filter((l) => /^\d+$/.test(l)).map(Number));
      for (const w of waiters) if (pids.length >= w.n) w.resolve();
    },
    seen: (n) => new Promise<void>((resolve) => (pids.length >= n ? resolve() : waiters.push({ n, resolve }))),
  };
}

describe('process helper', () => {
  it('passes argv verbatim, without a shell', async () => {
    const r = await runner.run(['/bin/echo', '$HOME; ls', '`id`']);
    expect(r).toMatchObject({ exitCode: 0, signal: null, description: 'exit 0', stdout: '$HOME; ls `id`\n', timedOut: false, aborted: false });
  });

  it('reports exit codes and signals as they are', async () => {
    const three = await shellRunner.run(['exit 3'], { shell: true });
    expect(three).toMatchObject({ exitCode: 3, description: 'exit 3', signal: null });
    const killed = await shellRunner.run(['kill -9 $$'], { shell: true });
    expect(killed).toMatchObject({ exitCode: null, signal: 'SIGKILL', description: 'killed by SIGKILL' });
  });

  it('refuses a shell unless the configuration allows it', async () => {
    await expect(runner.run(['echo hi'], { shell: true })).rejects.toBeInstanceOf(RejectError);
    const r = await shellRunner.run(['echo "$1-$2"', 'a', 'b c'], { shell: true });
    expect(r.stdout).toBe('a-b c\n');
  });

  it('scrubs the environment to PATH, HOME, LANG plus what the job adds', async () => {
    process.env.IOT_JOBS_AGENT_TEST_SECRET = 'leak';
    try {
      const r = await runner.run(['/usr/bin/env'], { env: { JOB_VAR: 'x=1' } });
      const env = Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      expect(env).toEqual({ PATH: SAFE_PATH, HOME: expect.any(String), LANG: 'C.UTF-8', JOB_VAR: 'x=1' });
    } finally {
      delete process.env.IOT_JOBS_AGENT_TEST_SECRET;
    }
    await expect(runner.run(['/usr/bin/env'], { env: { 'BAD NAME': '1' } })).rejects.toBeInstanceOf(RejectError);
  });

  it('runs as another user by uid/gid, with that user\'s HOME and no extra groups', async () => {
    const uid = await runner.run(['/usr/bin/id', '-u'], { runAsUser: 'nobody' });
    const groups = await runner.run(['/usr/bin/id', '-G'], { runAsUser: 'nobody' });
    const home = await runner.run(['/usr/bin/env'], { runAsUser: 'nobody' });
    const nobody = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('nobody:'))!.split(':');
    expect(uid.stdout.trim()).toBe(nobody[2]);
    expect(groups.stdout.trim()).toBe(nobody[3]);
    expect(home.stdout).toContain(`HOME=${nobody[5]}\n`);
    const byUid = await runner.run(['/usr/bin/id', '-un'], { runAsUser: nobody[2] });
    expect(byUid.stdout.trim()).toBe('nobody');
  });

  it('rejects a user that does not exist instead of running as the agent', async () => {
    const p = runner.run(['/usr/bin/id', '-u'], { runAsUser: 'no-such-user-4711' });
    await expect(p).rejects.toBeInstanceOf(RejectError);
    await expect(p).rejects.toThrow('user no-such-user-4711 does not exist');
    await expect(runner.run(['/usr/bin/id'], { runAsUser: '-u' })).rejects.toBeInstanceOf(RejectError);
  });

  it('gives the child no descriptors beyond stdin, stdout and stderr', async () => {
    const fd = openSync('/etc/passwd', 'r');
    try {
      const r = await runner.run(['/usr/bin/find', '/proc/self/fd/', '-mindepth', '1', '-maxdepth', '1', '-printf', '%f %l\n']);
      const open = r.stdout.trim().split('\n').map((l) => l.split(' ')).filter(([n]) => Number(n) > 2);
      // find holds descriptors for its cwd and the directory it reads; whatever the agent itself inherited is /dev/null.
      const other = open.filter(([, target]) => target !== '/dev/null' && !target!.startsWith('/proc/') && target !== process.cwd());
      expect(other).toEqual([]);
      const stdin = await runner.run(['/usr/bin/readlink', '/proc/self/fd/0']);
      expect(stdin.stdout.trim()).toBe('/dev/null');
    } finally {
      closeSync(fd);
    }
  });

  it('writes input to stdin', async () => {
    const r = await runner.run(['/bin/cat'], { input: 'hello\n' });
    expect(r.stdout).toBe('hello\n');
  });

  it('drains 100 MB on stderr and stdout at once without deadlock or memory growth', async () => {
    const before = process.memoryUsage();
    const r = await shellRunner.run(['head -c 100000000 /dev/zero >&2 & head -c 100000000 /dev/zero; wait; echo end'], {
      shell: true,
      maxCaptureBytes: 4096,
    });
    const after = process.memoryUsage();
    expect(r.exitCode).toBe(0);
    expect(r.truncated).toBe(true);
    expect(r.stderr.length).toBe(4096);
    expect(r.stdout.endsWith('end\n')).toBe(true);
    expect(Buffer.byteLength(r.stdout)).toBe(4096);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(64 * 1024 * 1024);
  });

  it('kills the whole process group on timeout, grandchildren included', async () => {
    const c = pidCollector();
    const r = await shellRunner.run(['sleep 100 & echo $!; sleep 100 & echo $!; echo $$; wait'], {
      shell: true,
      timeoutMs: 500,
      killGraceMs: 2000,
      onOutput: c.onOutput,
    });
    expect(r).toMatchObject({ timedOut: true, signal: 'SIGTERM', description: 'killed by SIGTERM' });
    expect(c.pids).toHaveLength(3);
    for (const pid of c.pids) expect(await goneSoon(pid)).toBe(true);
  });

  it('escalates to SIGKILL when the group ignores SIGTERM', async () => {
    const c = pidCollector();
    const r = await shellRunner.run(["trap '' TERM; sleep 100 & echo $!; echo $$; wait; wait"], {
      shell: true,
      timeoutMs: 300,
      killGraceMs: 300,
      onOutput: c.onOutput,
    });
    expect(r).toMatchObject({ timedOut: true, signal: 'SIGKILL', description: 'killed by SIGKILL' });
    for (const pid of c.pids) expect(await goneSoon(pid)).toBe(true);
  });

  it('honours an AbortSignal', async () => {
    const c = pidCollector();
    const ac = new AbortController();
    const p = shellRunner.run(['sleep 100 & echo $!; wait'], { shell: true, signal: ac.signal, onOutput: c.onOutput });
    await c.seen(1);
    ac.abort(new Error('canceled'));
    const r = await p;
    expect(r).toMatchObject({ aborted: true, timedOut: false, signal: 'SIGTERM' });
    expect(await goneSoon(c.pids[0]!)).toBe(true);
    await expect(runner.run(['/bin/true'], { signal: ac.signal })).rejects.toBeInstanceOf(AbortedError);
  });

  it('returns when the child exits even if a background grandchild holds its output open', async () => {
    const c = pidCollector();
    const r = await shellRunner.run(['sleep 100 & echo $!'], { shell: true, onOutput: c.onOutput });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^\d+\n$/);
    // The grandchild still holds the pipes: the file ends only once it is gone.
    process.kill(c.pids[0]!, 'SIGKILL');
    expect(await goneSoon(c.pids[0]!)).toBe(true);
  });

  it('fails clearly when the program does not exist', async () => {
    await expect(runner.run(['/nonexistent/program'])).rejects.toBeInstanceOf(HandlerFailure);
    await expect(runner.run([])).rejects.toBeInstanceOf(RejectError);
  });
});
