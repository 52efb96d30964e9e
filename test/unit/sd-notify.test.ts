/**
 * Against a real AF_UNIX SOCK_DGRAM listener (python3: Node cannot create one), the way systemd
 * receives notifications: datagrams, plus BARRIER=1 carrying a descriptor the receiver closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { createSdNotifier, watchdogIntervalMs } from '../../src/lib/sd-notify';

const LISTENER = `
import array, json, os, socket, sys
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('\\0' + addr[1:] if addr.startswith('@') else addr)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
print(json.dumps({'listening': True}), flush=True)
while True:
    msg, anc, _f, _a = s.recvmsg(4096, socket.CMSG_SPACE(64))
    pid = None
    for level, typ, data in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
            fds = array.array('i')
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
            for fd in fds:
                os.close(fd)
        if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
            pid = int.from_bytes(data[0:4], sys.byteorder)
    print(json.dumps({'msg': msg.decode(), 'pid': pid}), flush=True)
`;

interface Datagram {
  msg: string;
  pid: number | null;
}

class Listener {
  private readonly waiting: Array<(d: Datagram) => void> = [];
  private readonly received: Datagram[] = [];
  private constructor(private readonly proc: ChildProcess) {}

  static async start(addr: string): Promise<Listener> {
    const proc = spawn('python3', ['-c', LISTENER, addr], { stdio: ['ignore', 'pipe', 'inherit'] });
    const l = new Listener(proc);
    const lines = createInterface({ input: proc.stdout! });
    await new Promise<void>((resolve) => {
      lines.on('line', (line) => {
        const obj = JSON.parse(line) as Partial<Datagram> & { listening?: boolean };
        if (obj.listening) return resolve();
        const d = obj as Datagram;
        const w = l.waiting.shift();
        if (w) w(d);
        else l.received.push(d);
      });
    });
    return l;
  }

  next(): Promise<Datagram> {
    const d = this.received.shift();
    return d ? Promise.resolve(d) : new Promise((resolve) => this.waiting.push(resolve));
  }

  /** The next datagram that is not a barrier. */
  async nextMessage(): Promise<Datagram> {
    for (;;) {
      const d = await this.next();
      if (d.msg !== 'BARRIER=1') return d;
    }
  }

  stop(): void {
    this.proc.kill('SIGKILL');
  }
}

let dir: string;
let listener: Listener | undefined;
beforeEach(async () => {
  dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sdn-'));
});
afterEach(async () => {
  listener?.stop();
  listener = undefined;
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('sd_notify', () => {
  it('sends READY, STATUS, WATCHDOG and STOPPING in call order to a path socket', async () => {
    const sock = path.join(dir, 'notify');
    listener = await Listener.start(sock);
    const errors: string[] = [];
    const n = createSdNotifier({ NOTIFY_SOCKET: sock, PATH: process.env.PATH }, { onError: (e) => errors.push(e) });
    expect(n.enabled).toBe(true);
    await Promise.all([n.status('starting'), n.ready('connected\nREADY=1'), n.watchdog(), n.stopping()]);
    expect((await listener.nextMessage()).msg).toBe('STATUS=starting');
    expect((await listener.nextMessage()).msg).toBe('READY=1\nSTATUS=connected READY=1');
    expect((await listener.nextMessage()).msg).toBe('WATCHDOG=1');
    expect((await listener.nextMessage()).msg).toBe('STOPPING=1');
    expect(errors).toEqual([]);
  });

  it('works with an abstract socket name and carries the sender credentials', async () => {
    const name = `@iot-jobs-agent-test-${process.pid}-${Date.now()}`;
    listener = await Listener.start(name);
    const n = createSdNotifier({ NOTIFY_SOCKET: name, PATH: process.env.PATH });
    await n.ready();
    const d = await listener.nextMessage();
    expect(d.msg).toBe('READY=1');
    expect(typeof d.pid).toBe('number');
    expect(d.pid).toBeGreaterThan(0);
  });

  it('coalesces watchdog pings that queue up behind one another', async () => {
    const sock = path.join(dir, 'notify');
    listener = await Listener.start(sock);
    const n = createSdNotifier({ NOTIFY_SOCKET: sock, PATH: process.env.PATH });
    const first = n.status('busy');
    await Promise.all([first, n.watchdog(), n.watchdog(), n.watchdog()]);
    await n.status('done');
    const seen: string[] = [];
    for (let m = await listener.nextMessage(); ; m = await listener.nextMessage()) {
      seen.push(m.msg);
      if (m.msg === 'STATUS=done') break;
    }
    expect(seen).toEqual(['STATUS=busy', 'WATCHDOG=1', 'STATUS=done']);
  });

  it('is a silent no-op without NOTIFY_SOCKET', async () => {
    const errors: string[] = [];
    const n = createSdNotifier({}, { command: path.join(dir, 'does-not-exist'), onError: (e) => errors.push(e) });
    expect(n.enabled).toBe(false);
    await n.ready();
    await n.watchdog();
    expect(errors).toEqual([]);
  });

  it('reports a failed notification without throwing', async () => {
    const errors: string[] = [];
    const n = createSdNotifier({ NOTIFY_SOCKET: path.join(dir, 'nobody-listens'), PATH: process.env.PATH }, { onError: (e) => errors.push(e) });
    await n.ready();
    expect(errors).toEqual([expect.stringMatching(/^sd_notify READY=1 failed: /)]);
  });
});

describe('watchdogIntervalMs', () => {
  it.each([
    [{ WATCHDOG_USEC: '30000000' }, 15_000],
    [{ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '4242' }, 15_000],
    [{ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }, undefined],
    [{ WATCHDOG_USEC: '0' }, undefined],
    [{ WATCHDOG_USEC: 'abc' }, undefined],
    [{}, undefined],
    [{ WATCHDOG_USEC: '1000' }, 1],
  ])('%j -> %p', (env, expected) => {
    expect(watchdogIntervalMs(env, 4242)).toBe(expected);
  });

  it('is exposed on the notifier only when the watchdog applies to this process', () => {
    expect(createSdNotifier({ NOTIFY_SOCKET: '/x', WATCHDOG_USEC: '2000000', WATCHDOG_PID: String(process.pid) }).watchdogIntervalMs).toBe(1000);
    expect(createSdNotifier({ NOTIFY_SOCKET: '/x' }).watchdogIntervalMs).toBeUndefined();
  });
});
