/**
 * (d) Start-up: process spawn → the first Jobs request arriving at the service (ours: GetPending-
 * JobExecutions), and → READY=1 on NOTIFY_SOCKET (ours only; the baseline has no systemd support).
 * Node has no unix datagram sockets, so a small python3 receiver stamps each datagram.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isConnectedLine, isOurs, launchAgent } from '../support/agents';
import type { AgentKind } from '../support/agents';
import { SimObserver } from '../support/observe';
import { Proc } from '../support/proc';
import type { Stack } from '../support/stack';
import { withStack } from '../support/stack';
import { startFloorClient } from './limit';

export interface StartupRun {
  kind: AgentKind | 'floor';
  firstRequestMs: number;
  firstRequest: string;
  readyMs?: number;
}

const RECEIVER = `import socket, sys, time, json
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"msg": "listening"}), flush=True)
while True:
    d = s.recv(65536).decode(errors="replace")
    print(json.dumps({"msg": "datagram", "at": time.time() * 1000, "text": d}), flush=True)
`;

async function once(stack: Stack, obs: SimObserver, kind: AgentKind | 'floor', receiver: Proc, socket: string, n: number): Promise<StartupRun> {
  const thing = `boot-${kind}`;
  obs.firstRequest.delete(thing);
  const dir = join(stack.dir, `${kind}-${n}`);
  const ready = isOurs(kind) ? receiver.waitForLog((l) => l.msg === 'datagram' && String(l['text']).includes('READY=1'), 30_000) : undefined;
  let agent: Proc;
  if (kind === 'floor') {
    await mkdir(dir, { recursive: true });
    agent = await startFloorClient(stack, thing, dir);
  } else agent = await launchAgent({ stack, thing, kind, dir, notifySocket: socket });
  try {
    await agent.waitForLog(kind === 'floor' ? (l) => l.msg === 'connected' : isConnectedLine(kind));
    const readyAt = ready ? Number((await ready).line['at']) : undefined;
    // The first request can follow the connected line by a moment: wait for it, by event.
    for (let i = 0; !obs.firstRequest.has(thing) && i < 100; i++) await new Promise((r) => setTimeout(r, 10));
    const first = obs.firstRequest.get(thing);
    if (!first) throw new Error(`${kind}: no Jobs request seen`);
    return {
      kind,
      firstRequestMs: first.at - agent.spawnedAt,
      firstRequest: first.what,
      ...(readyAt !== undefined ? { readyMs: readyAt - agent.spawnedAt } : {}),
    };
  } finally {
    await agent.stop();
  }
}

export async function startupRuns(runs: number): Promise<StartupRun[]> {
  const kinds: (AgentKind | 'floor')[] = ['ours', 'ours-crt', 'release', 'baseline', 'floor'];
  return withStack(kinds.map((k) => `boot-${k}`), async (stack) => {
    const obs = new SimObserver(stack.sim.runtime.service);
    const script = join(stack.dir, 'notify-receiver.py');
    const socket = join(stack.dir, 'notify.sock');
    await writeFile(script, RECEIVER);
    const receiver = new Proc('python3', [script, socket], { PATH: process.env['PATH'] ?? '/usr/bin:/bin' });
    const out: StartupRun[] = [];
    try {
      await receiver.waitForLog((l) => l.msg === 'listening', 10_000);
      // Interleaved, so a slow patch of the machine does not land on one kind only.
      for (let n = 0; n < runs; n++) for (const kind of kinds) out.push(await once(stack, obs, kind, receiver, socket, n));
      return out;
    } finally {
      receiver.child.kill('SIGTERM');
      await receiver.exited;
      obs.close();
    }
  });
}
