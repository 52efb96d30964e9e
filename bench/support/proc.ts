/**
 * Child processes under measurement: spawn time, JSON log lines (so a run waits on events, never on
 * sleeps), and resident memory / CPU time read from /proc.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { wallMs } from './stats';

export type LogLine = Record<string, unknown> & { msg?: string };

/** The package root (where package.json is), from src or from dist. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the bench code');
    dir = up;
  }
  return dir;
}

export class Proc {
  readonly spawnedAt: number;
  readonly child: ChildProcess;
  readonly tail: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly listeners = new Set<(l: LogLine, at: number) => void>();

  constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
    this.spawnedAt = wallMs();
    this.child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    const onData = (chunk: Buffer): void => {
      const at = wallMs();
      buf += chunk.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const raw = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.tail.push(raw);
        if (this.tail.length > 40) this.tail.shift();
        let line: LogLine;
        try {
          line = JSON.parse(raw) as LogLine;
        } catch {
          line = { msg: raw };
        }
        for (const l of this.listeners) l(line, at);
      }
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    const pid = this.child.pid;
    if (pid === undefined) throw new Error('process did not start');
    return pid;
  }

  /** The first future log line matching `pred`, with the time it arrived. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 30_000): Promise<{ line: LogLine; at: number }> {
    return new Promise((resolve, reject) => {
      const onLine = (line: LogLine, at: number): void => {
        if (!pred(line)) return;
        done();
        resolve({ line, at });
      };
      const onExit = (): void => {
        done();
        reject(new Error(`process exited while waiting; last lines:\n${this.tail.join('\n')}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching log line within ${timeoutMs} ms; last lines:\n${this.tail.join('\n')}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(onLine);
        this.child.off('exit', onExit);
      };
      this.listeners.add(onLine);
      this.child.once('exit', onExit);
    });
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const kill = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    this.child.kill('SIGTERM');
    await this.exited;
    clearTimeout(kill);
  }
}

let clkTck: number | undefined;
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

export interface ProcSample {
  at: number;
  rssKb: number;
  /** utime + stime, ms. */
  cpuMs: number;
}

/** VmRSS and utime+stime of a live process. */
export function sampleProc(pid: number): ProcSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name (which may contain spaces): state is field 3.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return { at: wallMs(), rssKb: rss ? Number(rss[1]) : Number.NaN, cpuMs: ((utime + stime) * 1000) / ticksPerSecond() };
}

/** Samples a process every `everyMs` until stopped; returns the samples. */
export function sampler(pid: number, everyMs = 100): { stop(): ProcSample[] } {
  const samples: ProcSample[] = [];
  const take = (): void => {
    try {
      samples.push(sampleProc(pid));
    } catch {
      // The process is gone; the samples so far stand.
    }
  };
  take();
  const t = setInterval(take, everyMs);
  return {
    stop: () => {
      clearInterval(t);
      take();
      return samples;
    },
  };
}
