/**
 * What devices do to an agent, staged for real: a state directory on a small tmpfs that a filler
 * file makes full (real ENOSPC), a wall clock moved by libfaketime (Debian package `faketime`) the
 * way NTP steps it, and a unix datagram socket that receives sd_notify messages as systemd would.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from './agent-proc';

function run(cmd: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, (err, _stdout, stderr) => resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stderr }));
  });
}

/** A tmpfs mounted at `dir` (needs root): fill() makes every further write fail with ENOSPC. */
export class SmallDisk {
  private constructor(readonly dir: string) {}

  static async mount(dir: string, sizeKb = 256): Promise<SmallDisk> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const r = await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0700`, 'tmpfs', dir]);
    if (r.code !== 0) throw new Error(`mount -t tmpfs ${dir} failed (tests of a full disk need root): ${r.stderr}`);
    return new SmallDisk(dir);
  }

  private get filler(): string {
    return join(this.dir, 'filler');
  }

  /** dd until the file system is full: the real ENOSPC a full flash gives. */
  async fill(): Promise<void> {
    await run('dd', ['if=/dev/zero', `of=${this.filler}`, 'bs=4k']);
  }

  async free(): Promise<void> {
    await rm(this.filler, { force: true });
  }

  async unmount(): Promise<void> {
    await run('umount', ['-l', this.dir]);
  }
}

/** The shared library of Debian's `faketime`, wherever the architecture put it. */
export function libfaketime(): string {
  for (const base of ['/usr/lib', '/usr/lib64']) {
    if (!existsSync(base)) continue;
    for (const sub of ['', ...readdirSync(base)]) {
      const f = join(base, sub, 'faketime', 'libfaketime.so.1');
      if (existsSync(f)) return f;
    }
  }
  throw new Error('libfaketime not found: install the Debian package faketime');
}

/**
 * A wall clock for one process. Only realtime is faked (FAKETIME_DONT_FAKE_MONOTONIC=1), as NTP
 * steps only realtime; the file is read at every clock call (FAKETIME_NO_CACHE=1), so rewriting it
 * is a jump. `@YYYY-MM-DD HH:MM:SS` starts the clock there; `+N` / `-N` is real time plus N seconds.
 */
export class FakeClock {
  private constructor(readonly file: string) {}

  static async create(file: string, spec: string): Promise<FakeClock> {
    const c = new FakeClock(file);
    await c.set(spec);
    return c;
  }

  async set(spec: string): Promise<void> {
    await writeFile(this.file, `${spec}\n`);
  }

  env(): NodeJS.ProcessEnv {
    return { LD_PRELOAD: libfaketime(), FAKETIME_TIMESTAMP_FILE: this.file, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
  }
}

/** A NOTIFY_SOCKET that records every datagram (python3's socket module: Node has no unix datagrams). */
export class NotifySocket {
  readonly received: string[] = [];
  private constructor(
    readonly path: string,
    private readonly proc: ChildProcess,
  ) {}

  static async listen(path: string): Promise<NotifySocket> {
    const py = `import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint('listening',flush=True)\nwhile True:\n  d,_=s.recvfrom(65536)\n  print(d.decode().replace('\\n','|'),flush=True)\n`;
    const proc = spawn('python3', ['-c', py, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const n = new NotifySocket(path, proc);
    proc.stdout?.on('data', (b: Buffer) => n.received.push(...b.toString().split('\n').filter(Boolean)));
    await waitFor(() => n.received.includes('listening'), 'the notify socket');
    return n;
  }

  /** The STATUS= texts received, in order. */
  statuses(): string[] {
    return this.received.flatMap((m) => m.split('|')).filter((a) => a.startsWith('STATUS=')).map((a) => a.slice(7));
  }

  close(): void {
    this.proc.kill('SIGKILL');
  }
}
